import { beforeAll, describe, expect, inject, it } from 'vitest'
import { api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { jsonEvents, readSse } from '../helpers/sse.ts'

const chat = (extra: Record<string, unknown> = {}) => ({
  model: 'cic-demo-llm',
  messages: [{ role: 'user', content: 'hello there world' }],
  max_tokens: 5,
  ...extra,
})
let key: string

beforeAll(async () => {
  await registerNode(inject('standins').healthy, ['cic-demo-llm', 'cic-demo-embed'])
  ;({ key } = await seedTenant())
})

describe('POST /v1/chat/completions', () => {
  it("returns the node's completion with usage and a request id", async () => {
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat() })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-request-id')).toMatch(/^req_/)
    // biome-ignore lint/suspicious/noExplicitAny: a test reads loose JSON by path; its assertions check the shapes
    const body = (await res.json()) as Record<string, any>
    expect(body).toMatchObject({ object: 'chat.completion', model: 'cic-demo-llm', choices: [{ message: { role: 'assistant' } }] })
    expect(body.usage.completion_tokens).toBe(5)
  })

  it('echoes a client request id and forwards it to the node', async () => {
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat(), headers: { 'x-request-id': 'client-req-12345' } })
    expect(res.headers.get('x-request-id')).toBe('client-req-12345')
  })

  it('streams chunks and hides usage the client did not ask for', async () => {
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = await readSse(res)
    expect(events.at(-1)).toBe('[DONE]')
    const chunks = jsonEvents(events)
    expect(chunks[0]?.choices[0].delta.role).toBe('assistant')
    expect(chunks.every((c) => c.usage === undefined)).toBe(true)
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true)
  })

  it('sends the final usage chunk when the client asks with include_usage', async () => {
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat({ stream: true, stream_options: { include_usage: true } }) })
    const chunks = jsonEvents(await readSse(res))
    const last = chunks.at(-1)!
    expect(last.choices).toEqual([])
    expect(last.usage).toMatchObject({ completion_tokens: 5 })
    expect(chunks.slice(0, -1).every((c) => c.usage === undefined)).toBe(true)
  })

  it('passes continuous usage through when the client asks for it', async () => {
    const res = await api(key, '/v1/chat/completions', {
      method: 'POST',
      json: chat({ stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } }),
    })
    const chunks = jsonEvents(await readSse(res))
    expect(chunks.every((c) => c.usage !== undefined)).toBe(true)
  })
})

describe('other endpoints', () => {
  it('POST /v1/completions returns a text completion', async () => {
    const res = await api(key, '/v1/completions', { method: 'POST', json: { model: 'cic-demo-llm', prompt: 'once upon', max_tokens: 3 } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ object: 'text_completion', usage: { completion_tokens: 3 } })
  })

  it('POST /v1/completions streams', async () => {
    const res = await api(key, '/v1/completions', { method: 'POST', json: { model: 'cic-demo-llm', prompt: 'once upon', max_tokens: 3, stream: true } })
    const events = await readSse(res)
    expect(events.at(-1)).toBe('[DONE]')
    expect(jsonEvents(events).some((c) => typeof c.choices[0]?.text === 'string')).toBe(true)
  })

  it('POST /v1/embeddings returns vectors', async () => {
    const res = await api(key, '/v1/embeddings', { method: 'POST', json: { model: 'cic-demo-embed', input: ['a b', 'c'] } })
    expect(res.status).toBe(200)
    // biome-ignore lint/suspicious/noExplicitAny: a test reads loose JSON by path; its assertions check the shapes
    const body = (await res.json()) as Record<string, any>
    expect(body.object).toBe('list')
    expect(body.data).toHaveLength(2)
  })

  it('GET /v1/models lists the models of ready nodes', async () => {
    const res = await api(key, '/v1/models')
    expect(await res.json()).toMatchObject({ object: 'list', data: expect.arrayContaining([expect.objectContaining({ id: 'cic-demo-llm', object: 'model' })]) })
  })
})

describe('invalid requests', () => {
  it.each([
    ['missing messages', { model: 'cic-demo-llm' }, 'messages'],
    ['empty messages', { model: 'cic-demo-llm', messages: [] }, 'messages'],
    ['missing model', { messages: [{ role: 'user', content: 'x' }] }, 'model'],
    ['non-integer max_tokens', chat({ max_tokens: 1.5 }), 'max_tokens'],
    ['stream_options without stream', chat({ stream_options: { include_usage: true } }), 'stream_options'],
  ])('returns 400 naming the field for %s', async (_, json, param) => {
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param } })
  })

  it('returns 400 for a body that is not JSON', async () => {
    const res = await api(key, '/v1/chat/completions', { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } })
  })

  it('returns 404 model_not_found for a model no node serves', async () => {
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat({ model: 'no-such-model' }) })
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'model_not_found', param: 'model' } })
  })

  it('returns 413 for a body over the limit', async () => {
    const huge = 'x'.repeat(4 * 1024 * 1024 + 10)
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat({ messages: [{ role: 'user', content: huge }] }) })
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'request_too_large' } })
  })

  it('returns 404 in OpenAI format for an unknown route', async () => {
    const res = await api(key, '/v1/nope')
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: { code: 'unknown_route' } })
  })
})
