// A node that stops sending mid-stream without closing (the stand-in's `stall` knob: 2 tokens, then silence):
// the relay gives up after UPSTREAM_IDLE_TIMEOUT_MS (1500 ms in tests) with an explicit SSE error event, never
// [DONE], and the request is billed once for what was generated.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { jsonEvents, readSse } from '../helpers/sse.ts'

const IDLE_TIMEOUT_MS = 1500 // vitest.config.ts
// `stalling` is started by start-standins.ts; env.d.ts (not this change's file) does not list it yet.
const standins: Record<string, string> = inject('standins')
type Row = { request_id: string; completion_tokens: number; outcome: string; tenant_id: string }

beforeAll(async () => {
  await registerNode(standins.stalling as string, ['stalling-llm'])
})

async function rowsOf(clientId: string): Promise<Row[]> {
  const read = async () => (await env.DB.prepare('SELECT * FROM usage_events WHERE request_id LIKE ?').bind(`${clientId}/req_%`).all<Row>()).results
  for (let i = 0; i < 200; i++) {
    const rows = await read()
    if (rows.length > 0) {
      await new Promise((r) => setTimeout(r, 200)) // a second (duplicate) row would have landed by now
      return read()
    }
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`no usage row for ${clientId}`)
}

describe('upstream idle timeout', () => {
  it('ends a stream whose node went silent with an error event after the idle timeout, no [DONE], and one usage row', async () => {
    const { key, tenantId } = await seedTenant()
    const started = Date.now()
    const res = await api(key, '/v1/chat/completions', {
      method: 'POST',
      headers: { 'x-request-id': 'idle-timeout-0001' },
      json: { model: 'stalling-llm', messages: [{ role: 'user', content: 'one two three' }], stream: true, stream_options: { include_usage: true } },
    })
    expect(res.status).toBe(200)
    const events = await readSse(res)
    const elapsedMs = Date.now() - started
    expect(elapsedMs).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 50)
    expect(elapsedMs).toBeLessThan(IDLE_TIMEOUT_MS + 5000)
    expect(events).not.toContain('[DONE]')
    const parsed = jsonEvents(events)
    const content = parsed.flatMap((e) => (e.choices ?? []).map((ch: { delta?: { content?: string } }) => ch.delta?.content ?? '')).join('')
    expect(content).toBe('one two ') // the two tokens before the node stalled reached the client
    expect(parsed.at(-1)).toMatchObject({ error: { type: 'server_error', code: 'upstream_idle_timeout' } })
    const rows = await rowsOf('idle-timeout-0001')
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ tenant_id: tenantId, completion_tokens: 2, outcome: 'upstream_broken' })
  }, 15_000)
})
