// Pumps a node's SSE stream to the client event by event, as each arrives (no buffering beyond one event),
// while keeping the last cumulative usage it saw (the node is always asked for continuous usage, so a cut
// stream is still billed for what was generated). It hides the usage the client did not ask for, and ends a
// broken stream with an explicit error event instead of a clean [DONE]. Line ends are normalised (CRLF, CR, LF
// are all valid SSE line ends, and sse-starlette sends CRLF), and a client that leaves while a write is blocked
// on backpressure still ends the relay (workerd does not always cancel the body: cloudflare/workerd#6832).
import { ApiError, errorBody } from '../../errors.ts'
import { usageSchema, type Usage } from '../../schemas/openai.ts'
import { upstreamErrorFromStreamFrame } from './upstream-error.ts'

export type StreamOutcome = {
  outcome: 'completed' | 'client_aborted' | 'upstream_broken'
  usage: Usage | null
  /** Content-bearing choice deltas seen, and the UTF-8 bytes of their text: the gateway's own count, used when the node reported no usage. */
  countedCompletionTokens: number
  countedTextBytes: number
  firstEventAt: number | null
}

export type RelayOptions = {
  clientWantsUsage: boolean
  clientWantsContinuousUsage: boolean
  idleTimeoutMs: number
  clientSignal: AbortSignal
  /** Cancels the upstream request (the caller's AbortController). */
  abortUpstream: () => void
}

const encoder = new TextEncoder()
const DONE = 'data: [DONE]\n\n'
const sseError = (e: ApiError) => `data: ${JSON.stringify(errorBody(e))}\n\n`

class IdleTimeout extends Error {}
class ClientGone extends Error {}

/**
 * Turns every SSE line end into "\n" (the spec's end-of-line is CRLF, LF or CR), across chunk boundaries: a
 * chunk's trailing CR is held back, since the next chunk may start with the LF of the same CRLF.
 */
export function lineEndNormaliser(): (text: string, isLast?: boolean) => string {
  let heldCr = false
  return (text, isLast = false) => {
    if (heldCr) { text = `\r${text}`; heldCr = false }
    if (!isLast && text.endsWith('\r')) { heldCr = true; text = text.slice(0, -1) }
    return text.replace(/\r\n?/g, '\n')
  }
}

/**
 * Waits for a write or close of the client's stream, but no longer than the client stays: one blocked on
 * backpressure would otherwise wait forever when the runtime never cancels the body, and the request would
 * record no usage and keep its lease. Throws ClientGone once the client has left.
 */
async function unlessGone(signal: AbortSignal, op: () => Promise<void>): Promise<void> {
  if (signal.aborted) throw new ClientGone()
  let onAbort: () => void = () => {}
  const gone = new Promise<never>((_, reject) => { onAbort = () => reject(new ClientGone()) })
  signal.addEventListener('abort', onAbort, { once: true })
  const pending = op()
  pending.catch(() => {}) // may settle (reject) long after we stopped waiting for it
  try {
    await Promise.race([pending, gone])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

export function relaySse(upstream: ReadableStream<Uint8Array>, options: RelayOptions): { body: ReadableStream<Uint8Array>; done: Promise<StreamOutcome> } {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
  return { body: readable, done: pump(upstream, writable.getWriter(), options) }
}

async function pump(upstream: ReadableStream<Uint8Array>, writer: WritableStreamDefaultWriter<Uint8Array>, options: RelayOptions): Promise<StreamOutcome> {
  const state: StreamOutcome = { outcome: 'upstream_broken', usage: null, countedCompletionTokens: 0, countedTextBytes: 0, firstEventAt: null }
  const reader = upstream.getReader()
  const decoder = new TextDecoder()
  const normalise = lineEndNormaliser()
  let buffer = ''
  let failure: ApiError | null = null
  let finished = false
  try {
    while (!finished) {
      const { value, done } = await readWithin(reader, options.idleTimeoutMs)
      buffer += done ? normalise(decoder.decode(), true) : normalise(decoder.decode(value, { stream: true }))
      let out = ''
      let end: number
      while (!finished && (end = buffer.indexOf('\n\n')) !== -1) {
        const event = buffer.slice(0, end + 2)
        buffer = buffer.slice(end + 2)
        const result = handleEvent(event, state, options)
        if (result.kind === 'forward') out += result.text
        else if (result.kind === 'done') { out += DONE; state.outcome = 'completed'; finished = true }
        else if (result.kind === 'error') { failure = result.error; finished = true }
      }
      if (out) await unlessGone(options.clientSignal, () => writer.write(encoder.encode(out)))
      if (done) break
    }
    if (!finished) failure = new ApiError('bad_gateway', 'The model node closed the stream before finishing it', { code: 'upstream_stream_broken' })
  } catch (err) {
    if (options.clientSignal.aborted) state.outcome = 'client_aborted'
    else if (err instanceof IdleTimeout) failure = new ApiError('upstream_timeout', 'The model node stopped sending tokens', { code: 'upstream_idle_timeout' })
    else failure = new ApiError('bad_gateway', 'The connection to the model node broke mid-stream', { code: 'upstream_stream_broken' })
  }
  if (failure) state.outcome = 'upstream_broken'
  if (state.outcome !== 'completed') { options.abortUpstream(); reader.cancel().catch(() => {}) }
  await finish(writer, failure, state, options.clientSignal)
  return state
}

async function finish(writer: WritableStreamDefaultWriter<Uint8Array>, failure: ApiError | null, state: StreamOutcome, signal: AbortSignal) {
  try {
    if (failure) await unlessGone(signal, () => writer.write(encoder.encode(sseError(failure))))
    await unlessGone(signal, () => writer.close()) // close waits for the queued chunks to be read
  } catch {
    writer.abort().catch(() => {}) // not awaited: abort too waits for a write stuck on backpressure
    state.outcome = state.outcome === 'completed' ? 'completed' : 'client_aborted' // the client is gone: nothing to tell
  }
}

type EventResult = { kind: 'forward'; text: string } | { kind: 'done' } | { kind: 'error'; error: ApiError } | { kind: 'skip' }

function handleEvent(event: string, state: StreamOutcome, options: RelayOptions): EventResult {
  const data = dataOf(event)
  if (data === null) return { kind: 'forward', text: event } // comments / keep-alives
  if (data === '[DONE]') return { kind: 'done' }
  let chunk: Record<string, unknown>
  try { chunk = JSON.parse(data) as Record<string, unknown> } catch { return { kind: 'forward', text: event } }
  state.firstEventAt ??= performance.now()
  if (chunk.error !== undefined) return { kind: 'error', error: upstreamErrorFromStreamFrame(chunk) }

  const usage = usageSchema.safeParse(chunk.usage)
  if (usage.success) state.usage = usage.data // cumulative: the last figure wins, never a sum
  const choices = Array.isArray(chunk.choices) ? (chunk.choices as Array<Record<string, unknown>>) : []
  for (const choice of choices) {
    const text = contentOf(choice)
    if (text === null) continue
    state.countedCompletionTokens++
    state.countedTextBytes += encoder.encode(text).byteLength
  }

  if (choices.length === 0 && chunk.usage) return options.clientWantsUsage ? { kind: 'forward', text: event } : { kind: 'skip' }
  if (chunk.usage !== undefined && !options.clientWantsContinuousUsage) {
    delete chunk.usage
    return { kind: 'forward', text: `data: ${JSON.stringify(chunk)}\n\n` }
  }
  return { kind: 'forward', text: event }
}

function dataOf(event: string): string | null {
  let data: string | null = null
  for (const line of event.split('\n')) {
    if (!line.startsWith('data:')) continue
    const value = line.slice(line[5] === ' ' ? 6 : 5).replace(/\r$/, '')
    data = data === null ? value : `${data}\n${value}`
  }
  return data
}

/** The text a chat delta or a completion choice carries, null when none. */
function contentOf(choice: Record<string, unknown>): string | null {
  const delta = choice.delta as Record<string, unknown> | undefined
  const text = delta ? delta.content : choice.text
  return typeof text === 'string' && text.length > 0 ? text : null
}

async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new IdleTimeout()), ms) })
  try {
    return await Promise.race([reader.read(), timeout])
  } finally {
    if (timer !== undefined) clearTimeout(timer)
  }
}
