// /metrics gauges that must not lie: cic_active_requests is the sum of each isolate's absolute in-flight count
// (reports older than the TTL are left out, so an isolate that died mid-request stops counting), and node
// gauges exist only for nodes that have an endpoint to check (a queued launch is not a node that is down).
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { FAMILIES, seriesKey } from '../../../durable-objects/metrics-aggregator/metric-registry.ts'
import { gaugeTtlMs } from '../../src/services/metrics/metrics-buffer.ts'
import { api, call, registerNode, seedTenant } from '../helpers/gateway.ts'
import { parsePrometheusText, sampleValue, type PromFamily } from '../helpers/prom-text.ts'
import { eventually } from '../helpers/standin.ts'

const METRICS_TOKEN = 'test-metrics-token-0123456789'
// `stalling` is started by start-standins.ts; env.d.ts (not this change's file) does not list it yet.
const standins: Record<string, string> = inject('standins')
const ACTIVE = FAMILIES.activeRequests.name
const ACTIVE_KEY = seriesKey(ACTIVE, {})
/** The tests' flush interval (vitest.config.ts): the TTL the scrape applies. */
const TTL_MS = gaugeTtlMs(0)

const scrape = async (): Promise<Map<string, PromFamily>> => {
  const res = await call('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  expect(res.status).toBe(200)
  return parsePrometheusText(await res.text())
}
const active = (f: Map<string, PromFamily>) => sampleValue(f, ACTIVE)
const chat = (model: string, stream: boolean) => ({ model, messages: [{ role: 'user', content: 'hello there' }], ...(stream ? { stream: true } : {}) })

beforeAll(async () => {
  await registerNode(standins.stalling as string, ['stalling-llm'])
})

describe('cic_active_requests', () => {
  it('is the exact number of requests in flight: two stalled streams count 2, then 0 once both end', async () => {
    expect(active(await eventually(scrape, (f) => active(f) === 0))).toBe(0)
    const { key } = await seedTenant()
    // Headers are out and the streams keep running until the relay's idle timeout (1.5 s here) ends them.
    const streams = await Promise.all([0, 1].map(() => api(key, '/v1/chat/completions', { method: 'POST', json: chat('stalling-llm', true) })))
    expect(streams.map((r) => r.status)).toEqual([200, 200])
    // Each scrape's end flushes this isolate's count (the scrape itself has ended by then: it is not counted).
    expect(active(await eventually(scrape, (f) => active(f) === 2))).toBe(2)
    await Promise.all(streams.map((r) => r.text()))
    expect(active(await eventually(scrape, (f) => active(f) === 0))).toBe(0)
  }, 15_000)

  it('sums live isolates and leaves out a report older than the TTL (an isolate that died mid-request)', async () => {
    const shard = env.METRICS_AGGREGATOR.getByName('metrics:1')
    await shard.add({ id: 'live-isolate:0', deltas: [], gauges: { isolate: 'live-isolate', at: Date.now(), values: [[ACTIVE_KEY, 3]] } })
    await shard.add({ id: 'dead-isolate:0', deltas: [], gauges: { isolate: 'dead-isolate', at: Date.now() - TTL_MS - 1000, values: [[ACTIVE_KEY, 5]] } })
    expect(active(await eventually(scrape, (f) => active(f) === 3))).toBe(3)
    // The live isolate's next report (it finished its requests) replaces its count; the dead one stays out.
    await shard.add({ id: 'live-isolate:1', deltas: [], gauges: { isolate: 'live-isolate', at: Date.now(), values: [[ACTIVE_KEY, 0]] } })
    expect(active(await scrape())).toBe(0)
  })

  it('a report ages out: the same count is summed while fresh and dropped once older than the TTL', async () => {
    const shard = env.METRICS_AGGREGATOR.getByName('metrics:test-ageing') // no isolate flushes here
    const at = Date.now() - TTL_MS + 1000 // still fresh for about a second
    await shard.add({ id: 'dying-isolate:0', deltas: [], gauges: { isolate: 'dying-isolate', at, values: [[ACTIVE_KEY, 4]] } })
    expect((await shard.read(TTL_MS)).find((s) => s.key === ACTIVE_KEY)?.value).toBe(4)
    await new Promise((resolve) => setTimeout(resolve, 1100))
    expect((await shard.read(TTL_MS)).find((s) => s.key === ACTIVE_KEY)).toBeUndefined()
  })

  it('a retried older report never overwrites a newer one, and a re-sent batch id still refreshes the count', async () => {
    const shard = env.METRICS_AGGREGATOR.getByName('metrics:test-order')
    const now = Date.now()
    expect(await shard.add({ id: 'iso-x:0', deltas: [], gauges: { isolate: 'iso-x', at: now, values: [[ACTIVE_KEY, 2]] } })).toBe(true)
    expect(await shard.add({ id: 'iso-x:1', deltas: [], gauges: { isolate: 'iso-x', at: now - 500, values: [[ACTIVE_KEY, 7]] } })).toBe(true)
    expect((await shard.read(TTL_MS)).find((s) => s.key === ACTIVE_KEY)?.value).toBe(2)
    expect(await shard.add({ id: 'iso-x:0', deltas: [], gauges: { isolate: 'iso-x', at: now + 10, values: [[ACTIVE_KEY, 1]] } })).toBe(false)
    expect((await shard.read(TTL_MS)).find((s) => s.key === ACTIVE_KEY)?.value).toBe(1)
  })
})

describe('node gauges', () => {
  it('exports and snapshots only nodes with an endpoint: a queued or launching node gets no cic_node_up and no monitor', async () => {
    await env.DB.prepare(
      "INSERT INTO nodes (id, name, endpoint, models, status) VALUES ('node_queued', 'queued-1', '', '[\"pool-9\"]', 'queued'), ('node_launching', 'launching-1', '', '[\"pool-9\"]', 'launching'), ('node_term_ep', 'term-1', ?, '[\"pool-9\"]', 'terminating')",
    )
      .bind(standins.healthy)
      .run()
    const ready = await registerNode(standins.healthy as string, ['cic-demo-llm'])
    const f = await scrape()
    const nodesUp = new Set(f.get('cic_node_up')?.samples.map((s) => s.labels.node))
    expect(nodesUp.has(ready.id)).toBe(true)
    expect(nodesUp.has('node_term_ep')).toBe(true) // terminating, but it still has an endpoint
    expect(nodesUp.has('node_queued')).toBe(false)
    expect(nodesUp.has('node_launching')).toBe(false)
    expect(f.get('cic_node_breaker_state')?.samples.some((s) => s.labels.node === 'node_queued')).toBe(false)
    // The scrape did not adopt their NodeMonitors (which would start probing '' + '/health').
    for (const id of ['node_queued', 'node_launching']) expect((await env.NODE_MONITOR.getByName(`node:${id}`).snapshot()).nodeId).toBeNull()
  })
})
