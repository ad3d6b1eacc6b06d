import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { readSse } from '../helpers/sse.ts'

let key: string
const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, ...extra })

beforeAll(async () => {
  const s = inject('standins')
  await registerNode(s.failing, ['failing-llm'])
  await registerNode(s.resetting, ['resetting-llm'])
  await registerNode(s.midstream, ['midstream-llm'])
  await registerNode(s.hanging, ['hanging-llm'])
  ;({ key } = await seedTenant())
})

describe('node failures', () => {
  it('maps a node 500 to 502 in OpenAI format', async () => {
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('failing-llm') })
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'upstream_error' } })
  })

  it('ends a stream the node resets with an error event, never [DONE]', async () => {
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('resetting-llm', { stream: true }) })
    expect(res.status).toBe(200)
    const events = await readSse(res)
    expect(events).not.toContain('[DONE]')
    expect(JSON.parse(events.at(-1)!)).toMatchObject({ error: { type: 'server_error', code: 'upstream_stream_broken' } })
    expect(events.length).toBeGreaterThan(1) // tokens before the break reached the client
  })

  it("turns vLLM's mid-stream error frame into our error event and drops its [DONE]", async () => {
    const events = await readSse(await api(key, '/v1/chat/completions', { method: 'POST', json: chat('midstream-llm', { stream: true }) }))
    expect(events).not.toContain('[DONE]')
    expect(JSON.parse(events.at(-1)!)).toMatchObject({ error: { code: 'upstream_stream_error' } })
  })

  it('returns 504 when the node never answers', async () => {
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('hanging-llm') })
    expect(res.status).toBe(504)
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'upstream_timeout' } })
  })

  it('returns 502 when a ready node cannot be reached, after retrying it', async () => {
    const node = await registerNode('http://127.0.0.1:1', ['unreachable-llm'])
    expect(node.status).toBe('warming') // its first health check failed: not routable yet
    // As if it had been healthy and then died between two health checks.
    await env.DB.prepare("UPDATE nodes SET status = 'ready' WHERE id = ?").bind(node.id).run()
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('unreachable-llm') })
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_unreachable' } })
  })
})
