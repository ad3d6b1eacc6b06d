// Failure and timing knobs of the vLLM stand-in, and precise abort counting, over real TCP.

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

  it('hang never answers; the client abort is counted', async () => {
    standin.knobs.fail = 'hang'
    await expect(chat({}, {}, AbortSignal.timeout(150))).rejects.toThrow(/abort|timeout/i)
    await settled()
    expect(standin.stats).toMatchObject({ aborted: 1, finished: { abort: 1 } })
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
