// Retries before the first byte, over real TCP to stand-in nodes: the client sees one answer and the ledger
// one usage row; a started stream is never replayed; retries stop at the retry limit and at the deadline.
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, inject, it } from 'vitest'
import { sessionFor } from '../helpers/affinity.ts'
import { admin, api, call, registerNode, seedTenant } from '../helpers/gateway.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.ts'
import { jsonEvents, readSse } from '../helpers/sse.ts'
import { eventually, standin } from '../helpers/standin.ts'

const [s0, s1, s2] = inject('pools').retries.map(standin) as [ReturnType<typeof standin>, ReturnType<typeof standin>, ReturnType<typeof standin>]
const chat = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content: 'one two three' }],
  max_tokens: 3,
  ...extra,
})
type UsageRow = { node_id: string; completion_tokens: number; outcome: string; http_status: number }

const usageRows = async (requestId: string) =>
  (await env.DB.prepare('SELECT * FROM usage_events WHERE request_id LIKE ?').bind(`${requestId}/%`).all<UsageRow>()).results
const usageRow = async (requestId: string) =>
  (
    await eventually(
      () => usageRows(requestId),
      (rows) => rows.length > 0,
    )
  )[0] as UsageRow
const upstreamErrors = async (nodeId: string) => {
  const res = await call('/metrics', { headers: { authorization: 'Bearer test-metrics-token-0123456789' } })
  return sampleValue(parsePrometheusText(await res.text()), 'cic_upstream_errors_total', { node: nodeId, kind: 'http_5xx' })
}
const breakerOf = async (id: string) => ((await (await admin(`/admin/nodes/${id}`)).json()) as { breaker: { consecutive_failures: number } }).breaker

/** Registers the stand-ins for `model` and aims a session at the first one. */
async function aimAt(model: string, target: { url: string }, others: { url: string }[]) {
  const { tenantId, key } = await seedTenant()
  const first = await registerNode(target.url, [model])
  const rest = await Promise.all(others.map((o) => registerNode(o.url, [model])))
  const session = sessionFor(tenantId, first.id, [first.id, ...rest.map((r) => r.id)])
  const send = (requestId: string, extra: Record<string, unknown> = {}) =>
    api(key, '/v1/chat/completions', { method: 'POST', json: chat(model, extra), headers: { 'x-session-id': session, 'x-request-id': requestId } })
  return { key, first, rest, send }
}

beforeEach(async () => {
  await Promise.all([s0.reset(), s1.reset(), s2.reset()])
})

describe('retries before the first byte', () => {
  it('retries a request whose node drops the connection on another node: one answer, one usage row', async () => {
    await s0.setKnobs({ fail: 'reset', failAfterTokens: 0 })
    const { first, rest, send } = await aimAt('pool-1', s0, [s1])
    const res = await send('retry-json-00001')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: 3 } })
    expect([await s0.generations(), await s1.generations()]).toEqual([1, 1])
    expect(await usageRow('retry-json-00001')).toMatchObject({ node_id: rest[0]?.id, completion_tokens: 3, outcome: 'completed', http_status: 200 })
    expect(await usageRows('retry-json-00001')).toHaveLength(1)
    expect(
      (
        await eventually(
          () => breakerOf(first.id),
          (b) => b.consecutive_failures === 1,
        )
      ).consecutive_failures,
    ).toBe(1)
  })

  it('retries a stream that broke before its first event; the client gets one clean stream', async () => {
    await s0.setKnobs({ fail: 'reset', failAfterTokens: 0 }) // sends the 200 headers, then drops the connection
    const { rest, send } = await aimAt('pool-2', s0, [s1])
    const res = await send('retry-sse-000001', { stream: true })
    expect(res.status).toBe(200)
    const events = await readSse(res)
    expect(events.at(-1)).toBe('[DONE]')
    expect(jsonEvents(events).some((e) => e.error !== undefined)).toBe(false)
    expect([await s0.generations(), await s1.generations()]).toEqual([1, 1])
    expect(await usageRow('retry-sse-000001')).toMatchObject({ node_id: rest[0]?.id, completion_tokens: 3, outcome: 'completed' })
  })

  it('never replays a stream that has started: it ends with an error event', async () => {
    await s0.setKnobs({ fail: 'reset', failAfterTokens: 2 })
    const { first, send } = await aimAt('pool-3', s0, [s1])
    const events = await readSse(await send('retry-sse-broken1', { stream: true }))
    expect(events).not.toContain('[DONE]')
    expect(JSON.parse(events.at(-1) as string)).toMatchObject({ error: { code: 'upstream_stream_broken' } })
    expect(await s1.generations()).toBe(0)
    expect(await usageRow('retry-sse-broken1')).toMatchObject({ node_id: first.id, completion_tokens: 2, outcome: 'upstream_broken' })
  })

  it('retries on another node when the first does not answer in time', async () => {
    await s0.setKnobs({ fail: 'hang' })
    const { rest, send } = await aimAt('pool-4', s0, [s1])
    // Streamed: a non-streamed request that times out is not replayed (its node may be generating it), see
    // request-path-upstream-timeout.test.ts; a stream's node that sends nothing in time is retried.
    const res = await send('retry-hang-00001', { stream: true })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('data: [DONE]')
    expect(await usageRow('retry-hang-00001')).toMatchObject({ node_id: rest[0]?.id, outcome: 'completed' })
  })

  it('retries on another node when the first refuses connections, and bills nothing to it', async () => {
    const { tenantId, key } = await seedTenant()
    const dead = await registerNode('http://127.0.0.1:1', ['pool-5'])
    await env.DB.prepare("UPDATE nodes SET status = 'ready' WHERE id = ?").bind(dead.id).run() // died after its last check
    const alive = await registerNode(s1.url, ['pool-5']) // (registration also refreshes this isolate's node list)
    const session = sessionFor(tenantId, dead.id, [dead.id, alive.id])
    const res = await api(key, '/v1/chat/completions', {
      method: 'POST',
      json: chat('pool-5'),
      headers: { 'x-session-id': session, 'x-request-id': 'retry-dead-00001' },
    })
    expect(res.status).toBe(200)
    expect(await usageRow('retry-dead-00001')).toMatchObject({ node_id: alive.id, outcome: 'completed' })
  })
})

describe("a node's 500", () => {
  it('is retried once on the other node: the client gets its answer, the usage row names it, the 500 still counts', async () => {
    await s0.setKnobs({ fail: 'http500' })
    const { first, rest, send } = await aimAt('pool-10', s0, [s1])
    const res = await send('retry-500-json01')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: 3 } })
    expect([await s0.generations(), await s1.generations()]).toEqual([1, 1])
    expect(await usageRow('retry-500-json01')).toMatchObject({ node_id: rest[0]?.id, completion_tokens: 3, outcome: 'completed', http_status: 200 })
    expect(await usageRows('retry-500-json01')).toHaveLength(1) // the failing node's attempt bills nothing
    expect(
      (
        await eventually(
          () => breakerOf(first.id),
          (b) => b.consecutive_failures === 1,
        )
      ).consecutive_failures,
    ).toBe(1)
    expect(
      await eventually(
        () => upstreamErrors(first.id),
        (n) => n === 1,
      ),
    ).toBe(1) // counted per attempt
  })

  it('is retried once for a stream too, before its first byte', async () => {
    await s0.setKnobs({ fail: 'http500' })
    const { rest, send } = await aimAt('pool-11', s0, [s1])
    const res = await send('retry-500-sse001', { stream: true })
    expect(res.status).toBe(200)
    const events = await readSse(res)
    expect(events.at(-1)).toBe('[DONE]')
    expect(jsonEvents(events).some((e) => e.error !== undefined)).toBe(false)
    expect([await s0.generations(), await s1.generations()]).toEqual([1, 1])
    expect(await usageRow('retry-500-sse001')).toMatchObject({ node_id: rest[0]?.id, outcome: 'completed' })
    expect(await usageRows('retry-500-sse001')).toHaveLength(1)
  })

  it('is retried at most once: a request every node answers 500 reaches two nodes, never a third', async () => {
    await Promise.all([s0, s1, s2].map((s) => s.setKnobs({ fail: 'http500' })))
    const { first, rest, send } = await aimAt('pool-12', s0, [s1, s2])
    const res = await send('retry-500-walk01')
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ error: { type: 'server_error' } })
    expect(await s0.generations()).toBe(1)
    expect((await s1.generations()) + (await s2.generations())).toBe(1)
    const row = await usageRow('retry-500-walk01')
    expect(row).toMatchObject({ outcome: 'upstream_error', http_status: 502, completion_tokens: 0 })
    expect(row.node_id).not.toBe(first.id) // the last node that received it
    expect(rest.map((r) => r.id)).toContain(row.node_id)
    expect(await usageRows('retry-500-walk01')).toHaveLength(1)
  })
})

describe('limits', () => {
  it('gives up after 3 retries on the only node there is', async () => {
    await s2.setKnobs({ fail: 'reset', failAfterTokens: 0 }) // drops each connection before any header
    const { key } = await seedTenant()
    const node = await registerNode(s2.url, ['pool-6'])
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-6') })
    expect(res.status).toBe(502)
    // Workers' fetch reports a refused and a dropped connection alike: "could not reach".
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'upstream_unreachable' } })
    expect(await s2.generations()).toBe(4) // 1 attempt + 3 retries
    expect(
      (
        await eventually(
          () => breakerOf(node.id),
          (b) => b.consecutive_failures === 4,
        )
      ).consecutive_failures,
    ).toBe(4)
  })

  it('records one usage row naming the node when the last attempt reached it and failed', async () => {
    await s2.setKnobs({ fail: 'http500' })
    const { key } = await seedTenant()
    const node = await registerNode(s2.url, ['pool-9'])
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-9'), headers: { 'x-request-id': 'retry-final-0001' } })
    expect(res.status).toBe(502)
    expect(await s2.generations()).toBe(1) // a node's 500 is retried on another node only: there is none
    expect(await usageRow('retry-final-0001')).toMatchObject({ node_id: node.id, outcome: 'upstream_error', http_status: 502, completion_tokens: 0 })
  })

  it('stops at the total deadline: no attempt starts or waits past it', async () => {
    await Promise.all([s0, s1, s2].map((s) => s.setKnobs({ fail: 'hang' })))
    const { key } = await seedTenant()
    for (const s of [s0, s1, s2]) await registerNode(s.url, ['pool-7'])
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-7', { stream: true }) })
    expect(res.status).toBe(504)
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_timeout' } })
    // First byte timeout 1.5 s, deadline 2.5 s (vitest.config.ts): a second attempt gets the rest, no third.
    const attempts = (await s0.generations()) + (await s1.generations()) + (await s2.generations())
    expect(attempts).toBe(2)
  })

  it("answers 503 with Retry-After when the model's only node is still warming", async () => {
    const { key } = await seedTenant()
    expect((await registerNode('http://127.0.0.1:1', ['pool-8'])).status).toBe('warming')
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-8') })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('5')
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'no_available_node' } })
  })
})
