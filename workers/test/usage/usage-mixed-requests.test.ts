// End to end through the real gateway and a real stand-in node over TCP: N requests of mixed kinds (streamed,
// not streamed, client aborts mid-stream, node resets or errors mid-stream, node errors or hangs before the
// first byte) end up as exactly N ledger rows whose token totals equal what the node itself counted.
// The `ledger` stand-in is used by this file only, so its counters are ours; its knobs change per phase.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { readSse } from '../helpers/sse.ts'
import { hourlyFromLedger, hourlyRows, sumOf } from '../helpers/usage.ts'

const node = () => inject('standins').ledger
type StandinStats = { promptTokens: number; generationTokens: number; aborted: number }
type Row = { request_id: string; prompt_tokens: number; completion_tokens: number; outcome: string; usage_source: string }
type Sent = { id: string; kind: string; status: number }

const standin = async (path: string, body?: unknown) => {
  const res = await fetch(node() + path, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) })
  if (!res.ok) throw new Error(`stand-in ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}
/** Every phase states all the knobs it relies on, so phases do not leak into each other. */
const knobs = (patch: Record<string, unknown>) => standin('/_standin/knobs', { fail: 'none', tokensPerSecond: 0, failAfterTokens: 2, ...patch })

const chat = (extra: Record<string, unknown> = {}) => ({
  model: 'ledger-llm',
  messages: [{ role: 'user', content: 'count the tokens of this prompt' }],
  max_tokens: 7,
  ...extra,
})

async function send(key: string, kind: string, path: string, json: Record<string, unknown>): Promise<Sent> {
  const res = await api(key, path, { method: 'POST', json })
  if (json.stream === true && res.ok) await readSse(res)
  else await res.text()
  return { id: res.headers.get('x-request-id') ?? '', kind, status: res.status }
}

/** Streams, reads `tokens` content chunks, then goes away (AbortController on the request, as a client would). */
async function sendAndAbort(key: string, tokens: number): Promise<Sent> {
  const abort = new AbortController()
  const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat({ stream: true, max_tokens: 12 }), signal: abort.signal })
  const reader = res.body?.getReader()
  if (!reader) throw new Error('no body')
  const decoder = new TextDecoder()
  let text = ''
  while ((text.match(/"content":"[^"]+"/g) ?? []).length < tokens) {
    const { value, done } = await reader.read()
    if (done) throw new Error('the stream ended before the client meant to abort')
    text += decoder.decode(value, { stream: true })
  }
  abort.abort()
  await reader.cancel().catch(() => {})
  return { id: res.headers.get('x-request-id') ?? '', kind: 'abort', status: res.status }
}

async function waitForRows(ids: string[]): Promise<Row[]> {
  const placeholders = ids.map(() => '?').join(',')
  for (let i = 0; i < 400; i++) {
    const { results } = await env.DB.prepare(`SELECT * FROM usage_events WHERE request_id IN (${placeholders})`)
      .bind(...ids)
      .all<Row>()
    if (results.length >= ids.length) return results
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('usage rows did not all arrive')
}

beforeAll(async () => {
  // A breaker that never opens: every failure kind below must reach this one node.
  await registerNode(node(), ['ledger-llm', 'cic-demo-embed'], { breaker: { failure_threshold: 1000 } })
})

describe('usage ledger under mixed request kinds', () => {
  it("records exactly one row per request that reached the node, with the node's own token totals", async () => {
    const { tenantId, key } = await seedTenant()
    const before = (await standin('/_standin/stats')) as StandinStats
    const sent: Sent[] = []
    const all = async (requests: Promise<Sent>[]) => sent.push(...(await Promise.all(requests)))

    await knobs({})
    await all([
      ...[3, 5, 7].map((n) => send(key, 'json', '/v1/chat/completions', chat({ max_tokens: n }))),
      ...[4, 6, 9].map((n) => send(key, 'stream', '/v1/chat/completions', chat({ max_tokens: n, stream: true }))),
      send(key, 'stream', '/v1/chat/completions', chat({ stream: true, stream_options: { include_usage: true } })),
      send(key, 'stream', '/v1/completions', { model: 'ledger-llm', prompt: 'one two three four', max_tokens: 5, stream: true }),
      send(key, 'json', '/v1/completions', { model: 'ledger-llm', prompt: 'one two three', max_tokens: 4 }),
      send(key, 'json', '/v1/embeddings', { model: 'cic-demo-embed', input: ['alpha beta', 'gamma'] }),
    ])
    await knobs({ tokensPerSecond: 4 }) // 250 ms between tokens: the client leaves in a gap, mid-stream
    await all([sendAndAbort(key, 1), sendAndAbort(key, 2), sendAndAbort(key, 3)])
    await knobs({ fail: 'reset', failAfterTokens: 3 })
    await all([1, 2].map(() => send(key, 'reset', '/v1/chat/completions', chat({ stream: true }))))
    await knobs({ fail: 'midstream-error', failAfterTokens: 2 })
    await all([1, 2].map(() => send(key, 'midstream', '/v1/chat/completions', chat({ stream: true }))))
    await knobs({ fail: 'http500' })
    await all([send(key, 'error', '/v1/chat/completions', chat()), send(key, 'error', '/v1/chat/completions', chat({ stream: true }))])
    await knobs({ fail: 'hang' })
    await all([send(key, 'hang', '/v1/chat/completions', chat({ stream: true }))])
    await knobs({})

    const rows = await waitForRows(sent.map((s) => s.id))
    const after = (await standin('/_standin/stats')) as StandinStats
    const count = await env.DB.prepare('SELECT count(*) AS n FROM usage_events WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>()
    expect(count?.n).toBe(sent.length) // exactly N: nothing extra, nothing missing
    expect(new Set(sent.map((s) => s.id)).size).toBe(sent.length)

    const outcomeOf = new Map(rows.map((r) => [r.request_id, r.outcome]))
    const outcomes = sent.map((s) => `${s.kind}:${outcomeOf.get(s.id)}`).sort()
    expect(outcomes).toEqual(
      [
        ...Array(3).fill('abort:client_aborted'),
        ...Array(2).fill('error:upstream_error'),
        'hang:upstream_error',
        ...Array(5).fill('json:completed'),
        ...Array(2).fill('midstream:upstream_broken'),
        ...Array(2).fill('reset:upstream_broken'),
        ...Array(5).fill('stream:completed'),
      ].sort(),
    )

    // The node's own counters over exactly these requests equal the ledger's totals.
    expect(sumOf(rows, (r) => r.completion_tokens)).toBe(after.generationTokens - before.generationTokens)
    expect(sumOf(rows, (r) => r.prompt_tokens)).toBe(after.promptTokens - before.promptTokens)
    expect(after.generationTokens - before.generationTokens).toBeGreaterThan(40)
    expect(after.aborted - before.aborted).toBe(4) // 3 client aborts + the hung request the gateway gave up on
    const aborted = rows
      .filter((r) => r.outcome === 'client_aborted')
      .map((r) => r.completion_tokens)
      .sort()
    expect(aborted).toEqual([1, 2, 3])

    // Rollups equal the sum of events, and the tenant reads the same totals.
    expect(await hourlyRows(tenantId)).toEqual(await hourlyFromLedger(tenantId))
    const usage = (await (await api(key, '/v1/usage?group_by=model')).json()) as { totals: Record<string, number> }
    expect(usage.totals).toMatchObject({
      requests: sent.length,
      errors: sent.filter((s) => !['json', 'stream'].includes(s.kind)).length,
      prompt_tokens: after.promptTokens - before.promptTokens,
      completion_tokens: after.generationTokens - before.generationTokens,
    })
  }, 20_000)
})
