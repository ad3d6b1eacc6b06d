// GET /metrics end to end: a known mix of requests (JSON and streamed chats, 429s from an rpm limit, a node's
// 500s until its breaker opens, an unknown route), then a scrape parsed by a strict Prometheus text parser,
// with exact counter deltas (isolates flush after every request here: METRICS_FLUSH_INTERVAL_MS=0).
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { seriesKey } from '../../../durable-objects/metrics-aggregator/metric-registry.ts'
import { admin, api, call, registerNode, seedTenant } from '../helpers/gateway.ts'
import { parsePrometheusText, sampleValue, type PromFamily } from '../helpers/prom-text.ts'
import { eventually } from '../helpers/standin.ts'

const METRICS_TOKEN = 'test-metrics-token-0123456789'
const standins = inject('standins')
/** One scrape, parsed by the strict parser (which throws on any format error). */
const families = async () => {
  const res = await call('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parsePrometheusText(await res.text())
}
const chat = (model: string, stream = false) => ({
  model,
  messages: [{ role: 'user', content: 'hello there' }],
  max_tokens: 5,
  ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
})
const CHAT = { method: 'POST', route: '/v1/chat/completions' }

type Usage = { prompt_tokens: number; completion_tokens: number }
async function usageOf(res: Response, stream: boolean): Promise<Usage> {
  if (!stream) return ((await res.json()) as { usage: Usage }).usage
  const events = (await res.text())
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map((l) => JSON.parse(l.slice(6)) as { usage?: Usage | null })
  const last = events.findLast((e) => e.usage)
  if (!last?.usage) throw new Error('no usage in stream')
  return last.usage
}

let healthyNode: string
let failingNode: string
beforeAll(async () => {
  healthyNode = (await registerNode(standins.healthy, ['cic-demo-llm'])).id
  failingNode = (await registerNode(standins.failing, ['failing-llm'], { breaker: { failure_threshold: 2, cooldown_ms: 600_000 } })).id
})

describe('GET /metrics', () => {
  it('answers 401 in OpenAI format without the token or with a wrong one', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: `Basic ${METRICS_TOKEN}` }] as Record<string, string>[]) {
      const res = await call('/metrics', { headers })
      expect(res.status).toBe(401)
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_metrics_token', type: expect.any(String) } })
    }
  })

  it('counts a known mix of requests exactly (200s, streams, 429s, node 500s until the breaker opens, unknown route)', async () => {
    const before = await families()
    const delta = (after: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}) =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels)

    const { key } = await seedTenant()
    const tokens = { prompt: 0, completion: 0 }
    const statuses = new Map<number, number>()
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1)
    for (const stream of [false, false, false, true, true]) {
      const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('cic-demo-llm', stream) })
      expect(res.status).toBe(200)
      expect(res.headers.get('server-timing')).toMatch(/^gateway;dur=[\d.]+, upstream;dur=[\d.]+$/)
      count(200)
      const usage = await usageOf(res, stream)
      tokens.prompt += usage.prompt_tokens
      tokens.completion += usage.completion_tokens
    }
    const limited = await seedTenant({ rpm: 2 })
    for (let i = 0; i < 4; i++) {
      const res = await api(limited.key, '/v1/chat/completions', { method: 'POST', json: chat('cic-demo-llm') })
      count(res.status)
      if (res.status === 200) {
        const usage = await usageOf(res, false)
        tokens.prompt += usage.prompt_tokens
        tokens.completion += usage.completion_tokens
      }
    }
    expect(statuses.get(429)).toBe(2)
    // The failing node answers 500 until its breaker (threshold 2) opens; then nothing is sent to it.
    for (let i = 0; i < 4; i++) count((await api(key, '/v1/chat/completions', { method: 'POST', json: chat('failing-llm') })).status)
    expect((await call('/v1/does-not-exist/sk-abc123')).status).toBe(401)

    const total = [...statuses.values()].reduce((a, b) => a + b, 0)
    const after = await eventually(
      families,
      (f) =>
        delta(f, 'cic_http_request_duration_seconds_count', CHAT) === total &&
        delta(f, 'cic_time_to_first_token_seconds_count', { model: 'cic-demo-llm' }) === 2,
    )

    for (const [status, n] of statuses) expect(delta(after, 'cic_http_requests_total', { ...CHAT, status: String(status) })).toBe(n)
    expect(delta(after, 'cic_http_requests_total', { method: 'GET', route: 'unmatched', status: '401' })).toBe(1)
    expect(delta(after, 'cic_rate_limited_total', { layer: 'rpm' })).toBe(2)
    expect(delta(after, 'cic_upstream_errors_total', { node: failingNode, kind: 'http_5xx' })).toBe(2)
    expect(delta(after, 'cic_tokens_total', { direction: 'prompt', model: 'cic-demo-llm' })).toBe(tokens.prompt)
    expect(delta(after, 'cic_tokens_total', { direction: 'completion', model: 'cic-demo-llm' })).toBe(tokens.completion)
    expect(tokens.completion).toBeGreaterThan(0)
    expect(delta(after, 'cic_gateway_overhead_seconds_count', { route: CHAT.route })).toBe(total)
    expect(delta(after, 'cic_http_request_duration_seconds_bucket', { ...CHAT, le: '+Inf' })).toBe(total)
    expect(sampleValue(after, 'cic_active_requests')).toBe(0)

    expect(sampleValue(after, 'cic_node_breaker_state', { node: failingNode })).toBe(2)
    expect(sampleValue(after, 'cic_node_breaker_state', { node: healthyNode })).toBe(0)
    expect(sampleValue(after, 'cic_node_up', { node: healthyNode })).toBe(1)
    expect([...after.values()].find((f) => f.name === 'cic_node_queue_depth')?.samples.some((s) => s.labels.node === healthyNode)).toBe(true)
  })

  it('counts a stream the node cut mid-way as stream_broken, and the request as ended', async () => {
    const node = await registerNode(standins.resetting, ['resetting-llm'])
    const { key } = await seedTenant()
    const before = await families()
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('resetting-llm', true) })
    expect(res.status).toBe(200)
    await res.text() // the relay ends the stream with an error event
    const after = await eventually(families, (f) => sampleValue(f, 'cic_upstream_errors_total', { node: node.id, kind: 'stream_broken' }) === 1)
    const delta = (name: string, labels: Record<string, string>) => sampleValue(after, name, labels) - sampleValue(before, name, labels)
    expect(delta('cic_http_requests_total', { ...CHAT, status: '200' })).toBe(1)
    expect(delta('cic_time_to_first_token_seconds_count', { model: 'resetting-llm' })).toBe(1)
    expect(sampleValue(after, 'cic_active_requests')).toBe(0)
  })

  it('sums every shard: what other isolates flushed elsewhere is in the scrape', async () => {
    const key = seriesKey('cic_upstream_errors_total', { node: 'nod_shard_test', kind: 'http_5xx' })
    for (const shard of [0, 1, 2, 3])
      await env.METRICS_AGGREGATOR.getByName(`metrics:${shard}`).add({ id: `other-isolate-${shard}:0`, deltas: [[key, shard + 1]] })
    expect(sampleValue(await families(), 'cic_upstream_errors_total', { node: 'nod_shard_test', kind: 'http_5xx' })).toBe(10)
  })

  it('uses route templates and bounded label values only: no raw path, key or tenant id', async () => {
    const { key, tenantId } = await seedTenant()
    expect((await admin(`/admin/tenants/${tenantId}`)).status).toBe(200)
    expect((await api(key, '/v1/chat/completions', { method: 'POST', json: chat('cic-demo-llm') })).status).toBe(200)
    const f = await eventually(families, (x) => sampleValue(x, 'cic_http_requests_total', { method: 'GET', route: '/admin/tenants/:id', status: '200' }) >= 1)
    const values = [...f.values()].flatMap((fam) => fam.samples.flatMap((s) => Object.values(s.labels)))
    for (const value of values) {
      expect(value).not.toContain('sk-')
      expect(value).not.toContain(tenantId)
      expect(value).not.toContain(key)
      expect(value).not.toMatch(/\/v1\/does-not-exist|ten_|key_/)
    }
    const routes = new Set([...f.values()].flatMap((fam) => fam.samples.map((s) => s.labels.route)).filter((r) => r !== undefined))
    for (const route of routes) expect(route === 'unmatched' || /^\/[\w/:.-]*$/.test(route as string)).toBe(true)
    for (const name of [
      'cic_http_requests_total',
      'cic_http_request_duration_seconds',
      'cic_time_to_first_token_seconds',
      'cic_gateway_overhead_seconds',
      'cic_active_requests',
      'cic_upstream_errors_total',
      'cic_rate_limited_total',
      'cic_tokens_total',
      'cic_node_up',
      'cic_node_breaker_state',
      'cic_node_inflight',
      'cic_node_queue_depth',
      'cic_node_kv_cache_usage',
    ])
      expect(f.has(name)).toBe(true)
  })
})
