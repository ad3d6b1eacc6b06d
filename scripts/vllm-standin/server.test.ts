// Wire-format tests for the vLLM stand-in, over real TCP: chat/text completions (JSON and SSE),
// embeddings, models, health, metrics, validation errors, API key, and what Stats records.
// Failure knobs and abort counting live in failure-knobs.test.ts.

import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { startStandin } from './server.ts'
import { parseSse, postJson } from './test-client.ts'

const standin = await startStandin()
afterAll(() => standin.close())
beforeEach(() => standin.reset())

const post = (path: string, body: unknown, headers?: Record<string, string>) => postJson(standin.url, path, body, headers)
const chat = (body: Record<string, unknown>, headers?: Record<string, string>) =>
  post('/v1/chat/completions', { model: 'cic-demo-llm', messages: [{ role: 'user', content: 'one two three' }], ...body }, headers)

type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number }
type Chunk = { id: string; object: string; choices: Array<Record<string, unknown>>; usage?: Usage }
/** Test-only shortcut: these tests assert the shape right after. */
async function jsonOf<T>(res: Response): Promise<T> {
  return (await res.json()) as T
}
const SIXTEEN_TOKENS = 'one two three one two three one two three one two three one two three one '

describe('POST /v1/chat/completions (JSON)', () => {
  it('answers with the echoed prompt words and predictable usage', async () => {
    const res = await chat({})
    expect(res.status).toBe(200)
    const body = await jsonOf<Chunk>(res)
    expect(body.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/)
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'cic-demo-llm',
      choices: [{ index: 0, message: { role: 'assistant', content: SIXTEEN_TOKENS }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3 + 3, completion_tokens: 16, total_tokens: 22 },
    })
  })

  it('stops at max_tokens with finish_reason length', async () => {
    const body = await jsonOf<Chunk>(
      await chat({
        max_tokens: 4,
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: [{ type: 'text', text: 'a b' }] },
        ],
      }),
    )
    expect(body).toMatchObject({
      choices: [{ message: { content: 'a b a b ' }, finish_reason: 'length' }],
      usage: { prompt_tokens: 5 + 5, completion_tokens: 4 },
    })
  })

  it('counts cumulative prompt and generation tokens in stats', async () => {
    await chat({ max_tokens: 5 })
    await chat({})
    expect(standin.stats).toMatchObject({ promptTokens: 12, generationTokens: 21, finished: { length: 1, stop: 1 } })
  })
})

describe('POST /v1/chat/completions (SSE)', () => {
  it('streams role delta, content, finish, include_usage chunk and [DONE], with continuous usage on every chunk', async () => {
    const res = await chat({ stream: true, max_tokens: 3, stream_options: { include_usage: true, continuous_usage_stats: true } })
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = parseSse(await res.text())
    expect(events.at(-1)?.data).toBe('[DONE]')
    const chunks = events.slice(0, -1).map((e) => e.json as Chunk)
    expect(chunks).toHaveLength(1 + 3 + 1 + 1)
    expect(chunks[0]?.choices[0]).toEqual({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })
    expect(
      chunks
        .slice(1, 4)
        .map((c) => (c.choices[0]!.delta as { content: string }).content)
        .join(''),
    ).toBe('one two three ')
    expect(chunks[4]?.choices[0]).toMatchObject({ delta: { content: '' }, finish_reason: 'length' })
    expect(chunks.map((c) => c.usage?.completion_tokens)).toEqual([0, 1, 2, 3, 3, 3])
    expect(chunks[5]).toMatchObject({ object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 } })
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1)
  })

  it('omits usage entirely without include_usage (continuous_usage_stats alone is ignored, as in vLLM)', async () => {
    for (const stream_options of [undefined, { continuous_usage_stats: true }]) {
      const events = parseSse(await (await chat({ stream: true, stream_options })).text())
      expect(events).toHaveLength(1 + 16 + 1 + 1)
      expect(events.some((e) => e.data.includes('"usage"'))).toBe(false)
    }
  })

  it('sends usage only in the final choices:[] chunk with include_usage alone', async () => {
    const events = parseSse(await (await chat({ stream: true, stream_options: { include_usage: true } })).text())
    const withUsage = events.filter((e) => e.data.includes('"usage"'))
    expect(withUsage).toHaveLength(1)
    expect(withUsage[0]?.json).toMatchObject({ choices: [], usage: { prompt_tokens: 6, completion_tokens: 16, total_tokens: 22 } })
  })
})

describe('POST /v1/completions', () => {
  it('answers text_completion JSON', async () => {
    const body = await jsonOf<Chunk>(await post('/v1/completions', { model: 'cic-demo-llm', prompt: 'x y', max_tokens: 3 }))
    expect(body.id).toMatch(/^cmpl-[0-9a-f]{32}$/)
    expect(body).toMatchObject({
      object: 'text_completion',
      choices: [{ index: 0, text: 'x y x ', finish_reason: 'length' }],
      usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 },
    })
  })

  it('streams text chunks and counts token-id prompts by length', async () => {
    const res = await post('/v1/completions', { prompt: [5, 6, 7, 8], max_tokens: 2, stream: true, stream_options: { include_usage: true } })
    const events = parseSse(await res.text())
    expect(events.map((e) => e.json)).toMatchObject([
      { object: 'text_completion', choices: [{ text: 't5 ' }] },
      { choices: [{ text: 't6 ' }] },
      { choices: [{ text: '', finish_reason: 'length' }] },
      { choices: [], usage: { prompt_tokens: 4, completion_tokens: 2 } },
      undefined,
    ])
  })
})

describe('request validation (vLLM error format)', () => {
  it('rejects stream_options on a non-streaming request', async () => {
    const res = await chat({ stream_options: { include_usage: true } })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: { message: 'Stream options can only be defined when `stream=True`.', type: 'BadRequestError', param: null, code: 400 },
    })
  })

  it('returns 404 NotFoundError for an unknown model', async () => {
    const res = await chat({ model: 'nope' })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: { message: 'The model `nope` does not exist.', type: 'NotFoundError', param: 'model', code: 404 } })
  })

  it.each([
    ['invalid JSON', '{"messages": ['],
    ['missing messages', { model: 'cic-demo-llm' }],
    ['max_tokens 0', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 }],
    ['prompt + max_tokens over max_model_len', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 8192 }],
  ])('returns 400 BadRequestError for %s', async (_name, body) => {
    const res = await post('/v1/chat/completions', body)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { type: 'BadRequestError', code: 400 } })
  })

  it('uses the legacy flat format when errorFormat is legacy', async () => {
    standin.knobs.errorFormat = 'legacy'
    const res = await chat({ model: 'nope' })
    expect(await res.json()).toEqual({ object: 'error', message: 'The model `nope` does not exist.', type: 'NotFoundError', param: 'model', code: 404 })
  })
})

describe('POST /v1/embeddings', () => {
  it('returns deterministic unit vectors of dimension 8, equal in float and base64', async () => {
    const floats = await jsonOf<{ data: Array<{ embedding: number[] }>; usage: Usage }>(
      await post('/v1/embeddings', { model: 'cic-demo-embed', input: ['hello world', 'x'] }),
    )
    expect(floats).toMatchObject({ object: 'list', model: 'cic-demo-embed', usage: { prompt_tokens: 3, total_tokens: 3 } })
    const first = floats.data[0]?.embedding ?? []
    expect(first).toHaveLength(8)
    expect(Math.hypot(...first)).toBeCloseTo(1, 5)
    const again = await jsonOf<{ data: Array<{ embedding: string }> }>(await post('/v1/embeddings', { input: 'hello world', encoding_format: 'base64' }))
    const decoded = Buffer.from(again.data[0]?.embedding ?? '', 'base64')
    expect(Array.from(new Float32Array(decoded.buffer, decoded.byteOffset, 8))).toEqual(first)
  })

  it('serves only embedding models', async () => {
    expect((await post('/v1/embeddings', { model: 'cic-demo-llm', input: 'x' })).status).toBe(404)
  })
})

describe('GET endpoints', () => {
  it('lists generation and embedding models in vLLM shape', async () => {
    const body = await jsonOf<{ data: unknown[] }>(await fetch(standin.url + '/v1/models'))
    expect(body).toMatchObject({ object: 'list' })
    expect(body.data).toHaveLength(2)
    expect(body.data[0]).toMatchObject({ id: 'cic-demo-llm', object: 'model', owned_by: 'vllm', root: 'cic-demo-llm', parent: null, max_model_len: 8192 })
  })

  it('answers /health with an empty 200, or 503 when the knob says so', async () => {
    const ok = await fetch(standin.url + '/health')
    expect([ok.status, await ok.text()]).toEqual([200, ''])
    standin.knobs.healthStatus = 503
    expect((await fetch(standin.url + '/health')).status).toBe(503)
  })

  it('exposes Prometheus metrics with vLLM names, labels and counters', async () => {
    Object.assign(standin.knobs, { queueDepth: 7, running: 3, kvCacheUsage: 0.25 })
    await chat({ max_tokens: 2 })
    const text = await (await fetch(standin.url + '/metrics')).text()
    const labels = 'model_name="cic-demo-llm",engine="0"'
    expect(text).toContain('# TYPE vllm:num_requests_running gauge')
    expect(text).toContain(`vllm:num_requests_running{${labels}} 3.0`)
    expect(text).toContain(`vllm:num_requests_waiting{${labels}} 7.0`)
    expect(text).toContain(`vllm:kv_cache_usage_perc{${labels}} 0.25`)
    expect(text).toContain(`vllm:gpu_cache_usage_perc{${labels}} 0.25`)
    expect(text).toContain('# TYPE vllm:prompt_tokens_total counter')
    expect(text).toContain(`vllm:prompt_tokens_total{${labels}} 6.0`)
    expect(text).toContain(`vllm:generation_tokens_total{${labels}} 2.0`)
    expect(text).toContain(`vllm:request_success_total{${labels},finished_reason="length"} 1.0`)
  })

  it('answers unknown paths with FastAPI-style 404', async () => {
    const res = await fetch(standin.url + '/nope')
    expect([res.status, await res.json()]).toEqual([404, { detail: 'Not Found' }])
  })
})

describe('API key and recorded requests', () => {
  it('requires the key on /v1/* only and answers 401 with a bare string error', async () => {
    const guarded = await startStandin({ apiKey: 'sekret' })
    try {
      const denied = await postJson(guarded.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }, { authorization: 'Bearer wrong' })
      expect(denied.status).toBe(401)
      expect(await denied.text()).toBe('{"error":"Unauthorized"}')
      const allowed = await postJson(guarded.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] }, { authorization: 'Bearer sekret' })
      expect(allowed.status).toBe(200)
      expect((await fetch(guarded.url + '/health')).status).toBe(200)
      expect(guarded.stats.recent.map((r) => r.headers.authorization)).toEqual(['Bearer wrong', 'Bearer sekret'])
    } finally {
      await guarded.close()
    }
  })

  it('records bodies, headers and per-path counts for the gateway tests to assert on', async () => {
    await chat({ stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } }, { 'x-request-id': 'req-123' }).then((r) => r.text())
    await fetch(standin.url + '/health')
    const [last] = standin.stats.recent
    expect(last).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-request-id': 'req-123' },
      body: { stream_options: { continuous_usage_stats: true } },
    })
    expect(standin.stats.requestsByPath).toEqual({ '/v1/chat/completions': 1, '/health': 1 })
  })

  it('offers stats and knobs over HTTP for tests that run outside Node', async () => {
    const set = await postJson(standin.url, '/_standin/knobs', { fail: 'http500' })
    expect(await set.json()).toMatchObject({ fail: 'http500' })
    expect(standin.knobs.fail).toBe('http500')
    expect((await postJson(standin.url, '/_standin/knobs', { fail: 'explode' })).status).toBe(400)
    expect((await chat({})).status).toBe(500)
    expect(await jsonOf<{ requestsByPath: Record<string, number> }>(await fetch(standin.url + '/_standin/stats'))).toMatchObject({
      requestsByPath: { '/v1/chat/completions': 1 },
    })
  })
})
