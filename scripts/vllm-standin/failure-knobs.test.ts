// Failure and timing knobs of the vLLM stand-in, and precise abort counting, over real TCP.

import { connect } from 'node:net'
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { startStandin } from './server.ts'
import { parseSse, postJson, readFrames } from './test-client.ts'

const standin = await startStandin()
afterAll(() => standin.close())
beforeEach(() => standin.reset())

const MESSAGES = [{ role: 'user', content: 'one two three' }]
const chat = (body: Record<string, unknown>, headers?: Record<string, string>, signal?: AbortSignal) =>
  postJson(standin.url, '/v1/chat/completions', { messages: MESSAGES, ...body }, headers, signal)
const settled = () => vi.waitFor(() => expect(standin.stats.inFlight).toBe(0))

describe('fail knob', () => {
  it('http500 answers 500 InternalServerError before any token', async () => {
    standin.knobs.fail = 'http500'
    const res = await chat({ stream: true })
    expect(res.status).toBe(500)
    expect(await res.json()).toMatchObject({ error: { type: 'InternalServerError', code: 500 } })
    expect(standin.stats.generationTokens).toBe(0)
  })

  it('reset drops a stream after failAfterTokens tokens: headers arrive, the body read rejects', async () => {
    Object.assign(standin.knobs, { fail: 'reset', failAfterTokens: 3 })
    const res = await chat({ stream: true })
    expect(res.status).toBe(200)
    const { frames, reader } = await readFrames(res, 4)
    expect(frames.map((f) => f.json)).toMatchObject([{ choices: [{ delta: { role: 'assistant' } }] }, {}, {}, {}])
    await expect(drain(reader)).rejects.toThrow()
    await settled()
    expect(standin.stats).toMatchObject({ aborted: 0, generationTokens: 3 })
  })

  it('reset drops a non-streaming request: fetch itself rejects', async () => {
    standin.knobs.fail = 'reset'
    await expect(chat({})).rejects.toThrow()
    await settled()
    expect(standin.stats.aborted).toBe(0)
  })

  it('midstream-error sends tokens, then an error frame, then [DONE]', async () => {
    Object.assign(standin.knobs, { fail: 'midstream-error', failAfterTokens: 2 })
    const events = parseSse(await (await chat({ stream: true, stream_options: { include_usage: true } })).text())
    expect(events.map((e) => e.json)).toMatchObject([
      { choices: [{ delta: { role: 'assistant', content: '' } }] },
      { choices: [{ delta: { content: 'one ' } }] },
      { choices: [{ delta: { content: 'two ' } }] },
      { error: { type: 'InternalServerError', code: 500 } },
      undefined,
    ])
    expect(events.at(-1)?.data).toBe('[DONE]')
    expect(standin.stats.finished.error).toBe(1)
  })

  it('midstream-error frames use the legacy flat object inside "error" in legacy mode', async () => {
    Object.assign(standin.knobs, { fail: 'midstream-error', failAfterTokens: 0, errorFormat: 'legacy' })
    const events = parseSse(await (await chat({ stream: true })).text())
    expect(events[0]?.json).toMatchObject({ error: { object: 'error', type: 'InternalServerError', code: 500 } })
  })

  it('reset is a real TCP reset (RST), not a clean close: the raw socket errors with ECONNRESET after the tokens', async () => {
    Object.assign(standin.knobs, { fail: 'reset', failAfterTokens: 2 })
    const { port } = new URL(standin.url)
    const body = JSON.stringify({ messages: MESSAGES, stream: true })
    const socket = connect(Number(port), '127.0.0.1')
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    let received = ''
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8')
    })
    const ending = await new Promise<string>((resolve) => {
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
      socket.once('end', () => resolve('clean end (FIN)'))
    })
    expect(ending).toBe('ECONNRESET')
    expect(received).toContain('"content":"two "')
    socket.destroy()
    await settled()
    expect(standin.stats.aborted).toBe(0)
  })

  it('stall sends failAfterTokens tokens, then nothing, and keeps the connection open until the client leaves', async () => {
    Object.assign(standin.knobs, { fail: 'stall', failAfterTokens: 2 })
    const controller = new AbortController()
    const res = await chat({ stream: true, stream_options: { include_usage: true } }, {}, controller.signal)
    expect(res.status).toBe(200)
    const { frames, reader } = await readFrames(res, 3)
    expect(frames.map((f) => f.json)).toMatchObject([
      { choices: [{ delta: { role: 'assistant' } }] },
      { choices: [{ delta: { content: 'one ' } }] },
      { choices: [{ delta: { content: 'two ' } }] },
    ])
    const next = reader.read().then(
      () => 'more data',
      () => 'closed',
    )
    const waited = await Promise.race([next, new Promise((resolve) => setTimeout(() => resolve('still open, silent'), 300))])
    expect(waited).toBe('still open, silent')
    expect(standin.stats).toMatchObject({ inFlight: 1, generationTokens: 2 })
    controller.abort()
    await settled()
    expect(standin.stats).toMatchObject({ aborted: 1, finished: { abort: 1, stop: 0, error: 0 } })
  })

  it('stall on a non-streaming request never answers (x-standin-fail: stall)', async () => {
    await expect(chat({}, { 'x-standin-fail': 'stall' }, AbortSignal.timeout(150))).rejects.toThrow(/abort|timeout/i)
    await settled()
    expect(standin.stats.aborted).toBe(1)
  })

  it('hang never answers; the client abort is counted', async () => {
    standin.knobs.fail = 'hang'
    await expect(chat({}, {}, AbortSignal.timeout(150))).rejects.toThrow(/abort|timeout/i)
    await settled()
    expect(standin.stats).toMatchObject({ aborted: 1, finished: { abort: 1 } })
  })
})

describe('omitUsage knob', () => {
  it('leaves usage out of a JSON body', async () => {
    standin.knobs.omitUsage = true
    const body = (await (await chat({})).json()) as Record<string, unknown>
    expect(body).toMatchObject({ object: 'chat.completion', choices: [{ finish_reason: 'stop' }] })
    expect('usage' in body).toBe(false)
    const text = (await (await postJson(standin.url, '/v1/completions', { model: 'cic-demo-llm', prompt: 'one two' })).json()) as Record<string, unknown>
    expect('usage' in text).toBe(false)
    const embedding = (await (await postJson(standin.url, '/v1/embeddings', { model: 'cic-demo-embed', input: 'one two' })).json()) as Record<string, unknown>
    expect(embedding).toMatchObject({ object: 'list' })
    expect('usage' in embedding).toBe(false)
  })

  it('sends no usage frame and no continuous usage in a stream, even when asked (x-standin-omit-usage header)', async () => {
    const res = await chat({ stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } }, { 'x-standin-omit-usage': 'true' })
    const events = parseSse(await res.text())
    expect(events.at(-1)?.data).toBe('[DONE]')
    expect(events.length).toBeGreaterThan(3)
    expect(events.some((e) => e.data.includes('usage'))).toBe(false)
    expect(events.at(-2)?.json).toMatchObject({ choices: [{ finish_reason: 'stop' }] })
    // Without the knob the same request carries usage.
    expect(await (await chat({ stream: true, stream_options: { include_usage: true } })).text()).toContain('"usage"')
  })

  it('rejects a non-boolean value', async () => {
    expect((await chat({}, { 'x-standin-omit-usage': 'maybe' })).status).toBe(400)
  })
})

describe('per-request header knobs', () => {
  it('x-standin-fail targets one request and leaves the live knobs alone', async () => {
    expect((await chat({}, { 'x-standin-fail': 'http500' })).status).toBe(500)
    expect((await chat({})).status).toBe(200)
    expect(standin.knobs.fail).toBe('none')
  })

  it('x-standin-answer-tokens and x-standin-fail-after-tokens shape one answer', async () => {
    const res = await chat({ stream: true }, { 'x-standin-answer-tokens': '4', 'x-standin-fail': 'midstream-error', 'x-standin-fail-after-tokens': '1' })
    const events = parseSse(await res.text())
    expect(events.map((e) => e.data.includes('"error"'))).toEqual([false, false, true, false])
  })

  it('x-standin-ttft-ms delays the first token', async () => {
    const started = performance.now()
    await (await chat({ stream: true }, { 'x-standin-ttft-ms': '120' })).text()
    expect(performance.now() - started).toBeGreaterThanOrEqual(110)
  })

  it('rejects an invalid header value with 400', async () => {
    const res = await chat({}, { 'x-standin-fail': 'explode' })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { type: 'BadRequestError', message: expect.stringContaining('x-standin-fail') } })
  })
})

describe('client aborts', () => {
  it('stops generating and counts exactly one abort when the client leaves mid-stream', async () => {
    standin.knobs.tokensPerSecond = 50
    const controller = new AbortController()
    const res = await chat({ stream: true, max_tokens: 100 }, {}, controller.signal)
    await readFrames(res, 2) // role chunk + first token
    expect(standin.stats.inFlight).toBe(1)
    controller.abort()
    await settled()
    const tokensAtAbort = standin.stats.generationTokens
    expect(tokensAtAbort).toBeLessThan(16)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(standin.stats).toMatchObject({ aborted: 1, generationTokens: tokensAtAbort, finished: { abort: 1, stop: 0 } })
  })

  it('counts an abort of a non-streaming request that is still waiting for its answer', async () => {
    await expect(chat({}, { 'x-standin-ttft-ms': '5000' }, AbortSignal.timeout(100))).rejects.toThrow()
    await settled()
    expect(standin.stats.aborted).toBe(1)
  })

  it('does not count completed requests on kept-alive connections as aborts', async () => {
    for (let i = 0; i < 5; i++) await (await chat({ stream: i % 2 === 0 })).text()
    await settled()
    expect(standin.stats).toMatchObject({ aborted: 0, finished: { stop: 5 } })
  })

  it('reports the live in-flight count as num_requests_running when the knob is unset', async () => {
    standin.knobs.fail = 'hang'
    const controller = new AbortController()
    const pending = chat({}, {}, controller.signal).catch(() => 'aborted')
    await vi.waitFor(() => expect(standin.stats.inFlight).toBe(1))
    const metrics = await (await fetch(standin.url + '/metrics')).text()
    expect(metrics).toContain('vllm:num_requests_running{model_name="cic-demo-llm",engine="0"} 1.0')
    controller.abort()
    expect(await pending).toBe('aborted')
    await settled()
  })
})

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  for (;;) if ((await reader.read()).done) return
}

describe("oversized and redirecting answers (the gateway's caps)", () => {
  it('huge-line sends the tokens, then one data line of hugeBytes without an end', async () => {
    Object.assign(standin.knobs, { fail: 'huge-line', failAfterTokens: 2, hugeBytes: 100_000 })
    const text = await (await chat({ stream: true })).text()
    const cut = text.lastIndexOf('\n\n') + 2
    expect(parseSse(text.slice(0, cut))).toHaveLength(3) // role chunk and two tokens
    expect(text.slice(cut)).toBe(`data: ${'x'.repeat(100_000)}`)
  })

  it('huge-body answers 200 with a JSON body of about hugeBytes; huge-error 500 with one', async () => {
    Object.assign(standin.knobs, { fail: 'huge-body', hugeBytes: 200_000 })
    const body = (await (await chat({})).json()) as { pad: string }
    expect(body.pad).toHaveLength(200_000)
    standin.knobs.fail = 'huge-error'
    const res = await chat({})
    expect(res.status).toBe(500)
    expect(((await res.json()) as { error: { message: string } }).error.message).toHaveLength(200_000)
  })

  it('redirect answers 307 with a location; metricsPadBytes pads /metrics; reportedCompletionTokens lies about usage', async () => {
    standin.knobs.fail = 'redirect'
    const res = await fetch(`${standin.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ messages: MESSAGES }), redirect: 'manual' })
    expect(res.status).toBe(307)
    expect(res.headers.get('location')).toBe('/v1/elsewhere')
    Object.assign(standin.knobs, { fail: 'none', metricsPadBytes: 10_000, reportedCompletionTokens: 999 })
    expect((await (await fetch(`${standin.url}/metrics`)).text()).length).toBeGreaterThan(10_000)
    expect(await (await chat({})).json()).toMatchObject({ usage: { completion_tokens: 999 } })
  })

  it('reportedCachedTokens adds prompt_tokens_details.cached_tokens (as --enable-prompt-tokens-details); null leaves it null', async () => {
    standin.knobs.reportedCachedTokens = null
    expect(((await (await chat({})).json()) as { usage: Record<string, unknown> }).usage.prompt_tokens_details).toBeNull()
    standin.knobs.reportedCachedTokens = 7
    expect(await (await chat({})).json()).toMatchObject({ usage: { prompt_tokens_details: { cached_tokens: 7 } } })
  })
})
