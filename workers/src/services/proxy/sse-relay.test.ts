import { describe, expect, it } from 'vitest'
import { lineEndNormaliser, relaySse, type RelayOptions } from './sse-relay.ts'

const encoder = new TextEncoder()
const usage = (completion: number) => ({ prompt_tokens: 4, completion_tokens: completion, total_tokens: 4 + completion })
const chunk = (content: string, completion: number) =>
  `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }], usage: usage(completion) })}`

function upstreamOf(parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(encoder.encode(part))
      controller.close()
    },
  })
}

function options(extra: Partial<RelayOptions> = {}): RelayOptions {
  return {
    clientWantsUsage: false,
    clientWantsContinuousUsage: false,
    idleTimeoutMs: 1_000,
    clientSignal: new AbortController().signal,
    abortUpstream: () => {},
    ...extra,
  }
}

describe('lineEndNormaliser', () => {
  it('turns CRLF and lone CR into LF, also when a CRLF is split across chunks', () => {
    const normalise = lineEndNormaliser()
    expect([normalise('a\r\nb\r'), normalise('\nc\rd\r'), normalise('\r\n')].join('')).toBe('a\nb\nc\nd\n\n')
    expect(normalise('e\r\r') + normalise('', true)).toBe('e\n\n') // the held CR is flushed at the end
  })
})

describe('relaySse', () => {
  it.each([
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('relays a stream whose events end in %s (sse-starlette sends CRLF)', async (_, eol) => {
    const text = `${chunk('Hi', 1)}${eol}${eol}${chunk(' there', 2)}${eol}${eol}data: [DONE]${eol}${eol}`
    const cut = Math.floor(text.length / 2) + 1
    const relay = relaySse(upstreamOf([text.slice(0, cut), text.slice(cut)]), options())
    const body = await new Response(relay.body).text()
    const outcome = await relay.done
    expect(outcome).toMatchObject({ outcome: 'completed', usage: { completion_tokens: 2 }, countedCompletionTokens: 2 })
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true)
    expect(body.split('\n\n').filter((e) => e !== '')).toHaveLength(3)
  })

  it("counts the streamed text and its pieces for the gateway's own count when the node sends no usage", async () => {
    const plain = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`
    const relay = relaySse(upstreamOf([plain('Hello'), plain(' 世界'), plain('🙂é'), 'data: [DONE]\n\n']), options())
    await new Response(relay.body).text()
    expect(await relay.done).toMatchObject({ outcome: 'completed', usage: null, countedCompletionTokens: 3, countedTextBytes: 5 + 7 + 4 + 2 })
  })

  it('removes the usage the client did not ask for from every event, wherever the node put the field, and keeps the rest as sent', async () => {
    const first = { id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'say "usage":{} and }' } }], usage: usage(1) }
    const usageFirst = { usage: usage(2), id: 'c1', choices: [{ index: 0, delta: { content: 'x' } }] }
    const nested = { id: 'c1', choices: [{ index: 0, delta: { content: 'y' }, extra: { usage: usage(9) } }], usage: usage(3) }
    const events = [first, usageFirst, nested].map((e) => `data: ${JSON.stringify(e)}\n\n`)
    const relay = relaySse(upstreamOf([...events, 'data: [DONE]\n\n']), options())
    const body = await new Response(relay.body).text()
    const forwarded = body
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>)
    const { usage: _1, ...firstRest } = first
    const { usage: _2, ...usageFirstRest } = usageFirst
    const { usage: _3, ...nestedRest } = nested
    expect(forwarded).toEqual([firstRest, usageFirstRest, nestedRest])
    expect(await relay.done).toMatchObject({ usage: { completion_tokens: 3 } }) // the last cumulative figure
  })

  it('ends as client_aborted, with the usage so far, when the client leaves during a write blocked on backpressure', async () => {
    let sent = 0
    const endless = new ReadableStream<Uint8Array>({
      // a node that keeps generating
      pull(controller) {
        sent++
        controller.enqueue(encoder.encode(`${chunk('x', sent)}\n\n`))
      },
    })
    const client = new AbortController()
    let isUpstreamAborted = false
    const relay = relaySse(
      endless,
      options({
        clientSignal: client.signal,
        abortUpstream: () => {
          isUpstreamAborted = true
        },
      }),
    )
    // The client never reads the body and the runtime never cancels it (cloudflare/workerd#6832): only the
    // request signal says it has gone.
    await new Promise((r) => setTimeout(r, 50))
    client.abort()
    const outcome = await Promise.race([relay.done, new Promise<'stalled'>((r) => setTimeout(() => r('stalled'), 2_000))])
    expect(outcome).toMatchObject({ outcome: 'client_aborted', usage: { completion_tokens: expect.any(Number) } })
    expect(isUpstreamAborted).toBe(true)
  })
})

describe('relaySse, a node sending one endless line', () => {
  it('ends the stream with the error event once the pending event passes the cap, after the events before it', async () => {
    let pulled = 0
    const upstream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled === 0) controller.enqueue(encoder.encode(`${chunk('Hi', 1)}\n\ndata: `))
          else if (pulled > 16 * 64) controller.close()
          else controller.enqueue(new Uint8Array(16 * 1024).fill(0x78))
          pulled++
        },
      },
      { highWaterMark: 0 },
    )
    let aborted = false
    const relay = relaySse(
      upstream,
      options({
        abortUpstream: () => {
          aborted = true
        },
      }),
    )
    const body = await new Response(relay.body).text()
    const outcome = await relay.done
    expect(outcome.outcome).toBe('upstream_broken')
    expect(aborted).toBe(true)
    const events = body.split('\n\n').filter((e) => e !== '')
    expect(events).toHaveLength(2)
    expect(JSON.parse(events[1]!.slice(6))).toMatchObject({ error: { type: 'server_error', code: 'upstream_event_too_large' } })
    // 1 MiB of the 16 MiB line was read, and a few pulls of read-ahead: the rest was never asked for.
    expect(pulled * 16 * 1024).toBeLessThan(1.25 * 1024 * 1024)
  })
})

describe('relaySse, usage read on the event text (vLLM-shaped events after the first valid usage)', () => {
  // Exactly what vLLM writes: usage last, a flat object in its field order.
  const vllmUsage = (completion: number) => `{"prompt_tokens":4,"total_tokens":${4 + completion},"completion_tokens":${completion}}`
  const head = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m"'
  const vllmEvent = (content: string, completion: number, eol = '\n') =>
    `data: ${head},"choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"logprobs":null,"finish_reason":null}],"usage":${vllmUsage(completion)}}${eol}${eol}`
  const usageOnly = (completion: number, eol = '\n') => `data: ${head},"choices":[],"usage":${vllmUsage(completion)}}${eol}${eol}`
  const done = (eol = '\n') => `data: [DONE]${eol}${eol}`
  const streamText = (eol: string) =>
    [vllmEvent('', 0, eol), vllmEvent('Hé', 1, eol), vllmEvent(' 世界', 2, eol), vllmEvent('!', 3, eol), usageOnly(3, eol), done(eol)].join('')
  /** Each forwarded event parsed, and what the node sent with its usage taken out (the client did not ask for it). */
  const parsedEvents = (body: string) =>
    body
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>)
  const expectedWithoutUsage = [0, 1, 2, 3].map((n) => {
    const { usage: _, ...rest } = JSON.parse(vllmEvent(['', 'Hé', ' 世界', '!'][n] as string, n).slice(6)) as Record<string, unknown>
    return rest
  })

  const relayText = async (parts: Uint8Array[], extra: Partial<RelayOptions> = {}) => {
    const upstream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(part)
        controller.close()
      },
    })
    const relay = relaySse(upstream, options(extra))
    const body = await new Response(relay.body).text()
    return { body, outcome: await relay.done }
  }

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('gives the same events and usage wherever the node cut its %s stream into chunks (bytes split mid-character too)', async (_, eol) => {
    const bytes = encoder.encode(streamText(eol))
    for (let cut = 1; cut < bytes.length; cut += 7) {
      for (const width of [1, 3, 64]) {
        const parts = [
          bytes.slice(0, cut),
          ...Array.from({ length: Math.ceil((bytes.length - cut) / width) }, (_, i) => bytes.slice(cut + i * width, cut + (i + 1) * width)),
        ]
        const { body, outcome } = await relayText(parts)
        expect(parsedEvents(body), `cut at ${cut}, then ${width} bytes`).toEqual(expectedWithoutUsage)
        expect(body.endsWith('data: [DONE]\n\n')).toBe(true)
        expect(outcome).toMatchObject({ outcome: 'completed', usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 } })
      }
    }
  })

  it('forwards the usage-only frame with its usage when the client asked for include_usage, and the continuous usage when asked', async () => {
    const bytes = [encoder.encode(streamText('\n'))]
    const withUsage = await relayText(bytes, { clientWantsUsage: true })
    const events = parsedEvents(withUsage.body)
    expect(events).toHaveLength(5)
    expect(events.slice(0, 4)).toEqual(expectedWithoutUsage)
    expect(events[4]).toEqual(JSON.parse(usageOnly(3).slice(6)))
    const continuous = await relayText(bytes, { clientWantsUsage: true, clientWantsContinuousUsage: true })
    expect(continuous.body).toBe(streamText('\n')) // as the node sent it
    expect(continuous.outcome.usage).toMatchObject({ completion_tokens: 3 })
  })

  it('bills the last usage of a stream cut short after events read on their text', async () => {
    const { body, outcome } = await relayText([encoder.encode(vllmEvent('a', 1) + vllmEvent('b', 2) + vllmEvent('c', 3))])
    expect(outcome).toMatchObject({ outcome: 'upstream_broken', usage: { completion_tokens: 3 } })
    expect(JSON.parse(body.trim().split('\n\n').at(-1)!.slice(6))).toMatchObject({ error: { code: 'upstream_stream_broken' } })
  })

  it('keeps the last valid usage when a later event carries an invalid one, and still ends on an error frame', async () => {
    const invalid = `data: ${head},"choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"prompt_tokens":-1}}\n\n`
    const errorFrame = 'data: {"error":{"message":"engine dead","type":"InternalServerError","code":500}}\n\n'
    const { body, outcome } = await relayText([encoder.encode(vllmEvent('a', 1) + vllmEvent('b', 2) + invalid + errorFrame + done())])
    expect(outcome).toMatchObject({ outcome: 'upstream_broken', usage: { completion_tokens: 2 } })
    expect(body).not.toContain('data: [DONE]')
  })

  it('relays an event exactly at the cap, and ends the stream at one character more', async () => {
    const first = vllmEvent('a', 1)
    const atCap = vllmEvent('b', 2)
    const over = vllmEvent('bb', 2)
    const fits = await relayText([encoder.encode(first + atCap + done())], { maxEventChars: atCap.length })
    expect(fits.outcome).toMatchObject({ outcome: 'completed', usage: { completion_tokens: 2 } })
    expect(parsedEvents(fits.body)).toHaveLength(2)
    const cut = await relayText([encoder.encode(first), encoder.encode(over), encoder.encode(done())], { maxEventChars: atCap.length })
    expect(cut.outcome).toMatchObject({ outcome: 'upstream_broken', usage: { completion_tokens: 1 } })
    expect(cut.body).toContain('upstream_event_too_large')
  })
})

describe('relaySse, a client that stops reading', () => {
  it('reads no more of the node than its write-ahead room (4 KiB) and a few chunks while the client reads nothing', async () => {
    const event = `${chunk('x', 1)}\n\n` // about 120 bytes
    let pulledBytes = 0
    const node = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          const bytes = encoder.encode(event.repeat(8)) // ~1 KiB per chunk, endless
          pulledBytes += bytes.byteLength
          controller.enqueue(bytes)
        },
      },
      { highWaterMark: 0 },
    )
    const client = new AbortController()
    const relay = relaySse(node, options({ clientSignal: client.signal }))
    const reader = relay.body.getReader()
    await reader.read() // the client takes one chunk, then stops reading
    await new Promise((r) => setTimeout(r, 200))
    const whileStalled = pulledBytes
    await new Promise((r) => setTimeout(r, 200))
    expect(pulledBytes).toBe(whileStalled) // backpressure holds: nothing more is read while the client waits
    expect(pulledBytes).toBeLessThan(16 * 1024) // 10 KiB measured: the 4 KiB write-ahead and a few of the node's 1.5 KiB chunks in flight
    client.abort()
    expect(await relay.done).toMatchObject({ outcome: 'client_aborted', usage: { completion_tokens: 1 } })
  })
})
