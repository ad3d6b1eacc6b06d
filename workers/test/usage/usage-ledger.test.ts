import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { admin, api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { readSse } from '../helpers/sse.ts'

type Row = { request_id: string; prompt_tokens: number; completion_tokens: number; outcome: string; usage_source: string; node_id: string; http_status: number }
let nodeId: string

/** Rows of requests sent with x-request-id `clientId`: the gateway's own id is prefixed with it. */
async function usageRows(clientId: string, expected = 1): Promise<Row[]> {
  for (let i = 0; i < 200; i++) {
    const { results } = await env.DB.prepare('SELECT * FROM usage_events WHERE request_id LIKE ? ORDER BY created_at').bind(`${clientId}/req_%`).all<Row>()
    if (results.length >= expected) return results
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`no usage row for ${clientId}`)
}
const usageRow = async (clientId: string) => (await usageRows(clientId))[0] as Row

beforeAll(async () => {
  ;({ id: nodeId } = await registerNode(inject('standins').healthy, ['cic-demo-llm', 'cic-demo-embed']))
  await registerNode(inject('standins').resetting, ['resetting-llm'])
  await registerNode(inject('standins').failing, ['failing-llm'])
})

const send = (key: string, id: string, json: Record<string, unknown>, path = '/v1/chat/completions') =>
  api(key, path, { method: 'POST', json, headers: { 'x-request-id': id } })
const chat = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content: 'one two three' }],
  max_tokens: 6,
  ...extra,
})

describe('usage ledger', () => {
  it("records a non-streamed request with the node's token counts", async () => {
    const { key } = await seedTenant()
    const res = await send(key, 'usage-json-0001', chat('cic-demo-llm'))
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }
    expect(await usageRow('usage-json-0001')).toMatchObject({
      prompt_tokens: body.usage.prompt_tokens,
      completion_tokens: 6,
      outcome: 'completed',
      usage_source: 'node',
      node_id: nodeId,
    })
  })

  it('records a stream from the last cumulative usage, never a sum', async () => {
    const { key } = await seedTenant()
    await readSse(await send(key, 'usage-sse-00001', chat('cic-demo-llm', { stream: true })))
    expect(await usageRow('usage-sse-00001')).toMatchObject({ completion_tokens: 6, outcome: 'completed', usage_source: 'node' })
  })

  it('records the tokens generated before a node broke the stream', async () => {
    const { key } = await seedTenant()
    await readSse(await send(key, 'usage-reset-0001', chat('resetting-llm', { stream: true })))
    const row = await usageRow('usage-reset-0001')
    expect(row.outcome).toBe('upstream_broken')
    expect(row.completion_tokens).toBe(3) // the resetting stand-in dies after 3 tokens
  })

  it('records a node error with no tokens', async () => {
    const { key } = await seedTenant()
    await send(key, 'usage-fail-00001', chat('failing-llm'))
    expect(await usageRow('usage-fail-00001')).toMatchObject({ outcome: 'upstream_error', completion_tokens: 0, http_status: 502 })
  })

  it('records every request even when a client reuses its x-request-id', async () => {
    const { key } = await seedTenant()
    const first = await send(key, 'reused-id-0001', chat('cic-demo-llm', { max_tokens: 2 }))
    const second = await send(key, 'reused-id-0001', chat('cic-demo-llm', { max_tokens: 3 }))
    expect([first.headers.get('x-request-id'), second.headers.get('x-request-id')]).toEqual(['reused-id-0001', 'reused-id-0001'])
    const rows = await usageRows('reused-id-0001', 2)
    expect(rows.map((r) => r.completion_tokens).sort()).toEqual([2, 3])
    expect(new Set(rows.map((r) => r.request_id)).size).toBe(2)
  })

  it('reports per-tenant totals and per-model rows to admins', async () => {
    const { tenantId, key } = await seedTenant()
    await send(key, 'usage-total-0001', chat('cic-demo-llm'))
    await send(key, 'usage-total-0002', { model: 'cic-demo-embed', input: 'a b c' }, '/v1/embeddings')
    const a = await usageRow('usage-total-0001')
    const b = await usageRow('usage-total-0002')
    const res = await admin(`/admin/tenants/${tenantId}/usage`)
    expect(await res.json()).toMatchObject({
      requests: 2,
      prompt_tokens: a.prompt_tokens + b.prompt_tokens,
      completion_tokens: 6,
      total_tokens: a.prompt_tokens + b.prompt_tokens + 6,
      by_model: [
        { model: 'cic-demo-embed', requests: 1 },
        { model: 'cic-demo-llm', requests: 1, completion_tokens: 6 },
      ],
    })
  })
})
