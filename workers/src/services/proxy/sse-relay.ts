// Pumps a node's SSE stream to the client event by event, as each arrives (no buffering beyond one event, itself
// capped at 1 MiB by sse-events.ts), while keeping the last valid cumulative usage it saw (the node is always asked
// for continuous usage, so a cut stream is still billed for what was generated). Once the stream has shown a valid
// usage, events of vLLM's usual shape are read and cut on their text (sse-usage-tail.ts) instead of being parsed.
// It hides the usage the client did not ask for, and ends a
// broken stream with an explicit error event instead of a clean [DONE]. Line ends are normalised (CRLF, CR, LF
// are all valid SSE line ends, and sse-starlette sends CRLF), and a client that leaves while a write is blocked
// on backpressure still ends the relay (workerd does not always cancel the body: cloudflare/workerd#6832).
import { ApiError, errorBody } from '../../errors.ts'
import type { Usage } from '../../schemas/openai.ts'
import { MAX_SSE_EVENT_CHARS, SseEventSplitter } from './sse-events.ts'
import { usageOf, utf8Length } from '../inference/count-tokens.ts'
import { upstreamErrorFromStreamFrame } from './upstream-error.ts'
import { readEventText } from './sse-usage-tail.ts'

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
  /** Cap of one event still waiting for its blank line (default MAX_SSE_EVENT_CHARS, 1 MiB); beyond it the stream ends with an error event. */
  maxEventChars?: number
}

const encoder = new TextEncoder()
/**
 * Bytes the relay may write ahead of the client's reads (a write resolves once it fits) before it waits and stops
 * reading the node: about a dozen vLLM events per stream.
 */
const WRITE_AHEAD_BYTES = 4 * 1024
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
    if (heldCr) {
      text = `\r${text}`
      heldCr = false
    }
    if (text.indexOf('\r') === -1) return text // the usual case (vLLM writes LF): no regex pass over the chunk
    if (!isLast && text.endsWith('\r')) {
      heldCr = true
      text = text.slice(0, -1)
    }
    return text.replace(/\r\n?/g, '\n')
  }
}

/**
 * Writes and closes of the client's stream wait no longer than the client stays: one blocked on backpressure
 * would otherwise wait forever when the runtime never cancels the body, and the request would record no usage
 * and keep its lease. One listener per stream (not per write): `run` rejects with ClientGone once the client left.
 */
function clientGuard(signal: AbortSignal): { run(op: () => Promise<void>): Promise<void> } {
  // Writes are sequential: at most one is waited on, and only its reject is held (a race against one shared
  // promise per write would pile a reaction per token onto it).
  let rejectWaiting: ((reason: ClientGone) => void) | null = null
  signal.addEventListener('abort', () => rejectWaiting?.(new ClientGone()), { once: true })
  return {
    run(op) {
      if (signal.aborted) return Promise.reject(new ClientGone())
      return new Promise<void>((resolve, reject) => {
        rejectWaiting = reject
        op().then(
          // the op may still settle long after the client left: both outcomes are handled here
          () => {
            rejectWaiting = null
            resolve()
          },
          (err: unknown) => {
            rejectWaiting = null
            reject(err)
          },
        )
      })
    },
  }
}

/**
 * One timer per stream rather than one per read. Only time spent waiting on the node counts (a write held back
 * by a slow client is not the node's silence): once a read has waited `idleMs`, the timer cancels it, the read
 * ends (done, or rejects with the cancel reason), and `hasFired` tells that end from the node's own.
 */
function idleWatchdog(reader: ReadableStreamDefaultReader<Uint8Array>, idleMs: number) {
  let readingSince: number | null = null
  let hasFired = false
  let timer: ReturnType<typeof setTimeout>
  const check = () => {
    const waited = readingSince === null ? 0 : Date.now() - readingSince
    if (waited < idleMs) {
      timer = setTimeout(check, idleMs - waited)
      return
    }
    hasFired = true
    reader.cancel(new IdleTimeout()).catch(() => {})
  }
  timer = setTimeout(check, idleMs)
  return {
    /** Brackets each read (no wrapper promise per event: this runs once per token). */
    waiting: (isWaiting: boolean) => {
      readingSince = isWaiting ? Date.now() : null
    },
    stop: () => clearTimeout(timer),
    get hasFired() {
      return hasFired
    },
  }
}

/** A node's stream: optionally a first chunk already read (upstream-attempt.ts), then the rest from `reader`. */
export type UpstreamBody = { first: Uint8Array | null; reader: ReadableStreamDefaultReader<Uint8Array> }

export function relaySse(
  upstream: ReadableStream<Uint8Array> | UpstreamBody,
  options: RelayOptions,
): { body: ReadableStream<Uint8Array>; done: Promise<StreamOutcome> } {
  // workerd's native byte stream, not a JS TransformStream: the runtime then reads the client's body without a
  // call into JavaScript per chunk (only the relay's write is JS). Its highWaterMark is in bytes.
  const { readable, writable } = new IdentityTransformStream({ highWaterMark: WRITE_AHEAD_BYTES })
  return { body: readable, done: pump(upstream, writable.getWriter(), options) }
}

async function pump(
  upstream: ReadableStream<Uint8Array> | UpstreamBody,
  writer: WritableStreamDefaultWriter<ArrayBufferView>,
  options: RelayOptions,
): Promise<StreamOutcome> {
  const state: RelayState = {
    outcome: 'upstream_broken',
    usage: null,
    usageText: null,
    countedCompletionTokens: 0,
    countedTextBytes: 0,
    firstEventAt: null,
  }
  const { reader, first: firstChunk } = upstream instanceof ReadableStream ? { reader: upstream.getReader(), first: null } : upstream
  let first = firstChunk
  const guard = clientGuard(options.clientSignal)
  const watchdog = idleWatchdog(reader, options.idleTimeoutMs)
  const decoder = new TextDecoder()
  const normalise = lineEndNormaliser()
  const maxEventChars = options.maxEventChars ?? MAX_SSE_EVENT_CHARS
  const events = new SseEventSplitter(maxEventChars)
  let failure: ApiError | null = null
  let finished = false
  try {
    while (!finished) {
      watchdog.waiting(true)
      const { value, done } = first ? { value: first, done: false } : await reader.read()
      watchdog.waiting(false)
      first = null
      if (watchdog.hasFired) throw new IdleTimeout()
      events.push(done ? normalise(decoder.decode(), true) : normalise(decoder.decode(value, { stream: true })))
      let out = ''
      let event: string | null
      while (!finished && (event = events.next()) !== null) {
        const result = handleEvent(event, state, options)
        if (result.kind === 'forward') out += result.text
        else if (result.kind === 'done') {
          out += DONE
          state.outcome = 'completed'
          finished = true
        } else if (result.kind === 'error') {
          failure = result.error
          finished = true
        }
      }
      if (out) await writeAhead(writer, encoder.encode(out), guard)
      if (events.isOverflowed) {
        failure = new ApiError('bad_gateway', `The model node sent an event larger than ${maxEventChars} characters`, { code: 'upstream_event_too_large' })
        break
      }
      if (done) break
    }
    if (!finished) failure ??= new ApiError('bad_gateway', 'The model node closed the stream before finishing it', { code: 'upstream_stream_broken' })
  } catch (err) {
    if (options.clientSignal.aborted) state.outcome = 'client_aborted'
    else if (err instanceof IdleTimeout || watchdog.hasFired)
      failure = new ApiError('upstream_timeout', 'The model node stopped sending tokens', { code: 'upstream_idle_timeout' })
    else failure = new ApiError('bad_gateway', 'The connection to the model node broke mid-stream', { code: 'upstream_stream_broken' })
  }
  watchdog.stop()
  if (failure) state.outcome = 'upstream_broken'
  if (state.outcome !== 'completed') {
    options.abortUpstream()
    reader.cancel().catch(() => {})
  }
  await finish(writer, failure, state, guard)
  const { usageText, ...outcome } = state
  return { ...outcome, usage: usageText === null ? state.usage : usageOfText(usageText) }
}

/**
 * Writes `bytes` without waiting for the client while the stream's write-ahead room (WRITE_AHEAD_BYTES) is not
 * used up, and waits for the write once it is, so the node is read no further ahead of the client than that.
 * Each awaited write is one more entry into the isolate per event when the node paces its tokens: not waiting
 * cut CPU per paced 100-token stream by 8-9% (npm run bench:compare, two runs, 2026-12-05). The write itself is
 * awaited, never `writer.ready`: waiting on `ready` when `desiredSize` showed no room hung a 4,000-token stream
 * after ~600 events in workerd (npm run bench, 2026-12-05). A write not waited for that fails (the client left)
 * is reported by the next awaited write or by close.
 */
async function writeAhead(writer: WritableStreamDefaultWriter<ArrayBufferView>, bytes: Uint8Array, guard: ReturnType<typeof clientGuard>) {
  const written = writer.write(bytes)
  if ((writer.desiredSize ?? 0) > 0) {
    written.catch(() => {})
    return
  }
  await guard.run(() => written)
}

/** The usage an event's text carried (readEventText checked its shape): parsed once per stream, not once per event. */
function usageOfText(text: string): Usage | null {
  return usageOf(JSON.parse(text))
}

async function finish(
  writer: WritableStreamDefaultWriter<ArrayBufferView>,
  failure: ApiError | null,
  state: StreamOutcome,
  guard: ReturnType<typeof clientGuard>,
) {
  try {
    if (failure) await guard.run(() => writer.write(encoder.encode(sseError(failure))))
    await guard.run(() => writer.close()) // close waits for the queued chunks to be read
  } catch {
    writer.abort().catch(() => {}) // not awaited: abort too waits for a write stuck on backpressure
    state.outcome = state.outcome === 'completed' ? 'completed' : 'client_aborted' // the client is gone: nothing to tell
  }
}

type EventResult = { kind: 'forward'; text: string } | { kind: 'done' } | { kind: 'error'; error: ApiError } | { kind: 'skip' }

/**
 * While relaying: the node's latest valid usage, either parsed (`usage`) or, when it came in an event read on its
 * text, that text (`usageText`, newer than `usage` when set), parsed once the stream ends.
 */
type RelayState = StreamOutcome & { usageText: string | null }

const SKIP: EventResult = { kind: 'skip' }

function handleEvent(event: string, state: RelayState, options: RelayOptions): EventResult {
  // Before the first valid usage every event is parsed: the gateway's own count needs each delta's text. After
  // it, the count is never used (tokensOf bills the usage), and events of vLLM's shape are read on their text.
  if (state.usage !== null || state.usageText !== null) {
    const read = readEventText(event)
    if (read?.kind === 'plain') return { kind: 'forward', text: event }
    if (read) {
      state.usageText = read.usageText // cumulative: the last figure wins, never a sum
      if (read.isUsageOnly) return options.clientWantsUsage ? { kind: 'forward', text: event } : SKIP
      return { kind: 'forward', text: options.clientWantsContinuousUsage ? event : `data: ${read.dataWithoutUsage}\n\n` }
    }
  }
  return handleParsedEvent(event, state, options)
}

function handleParsedEvent(event: string, state: RelayState, options: RelayOptions): EventResult {
  const data = dataOf(event)
  if (data === null) return { kind: 'forward', text: event } // comments / keep-alives
  if (data === '[DONE]') return { kind: 'done' }
  let chunk: Record<string, unknown>
  try {
    chunk = JSON.parse(data) as Record<string, unknown>
  } catch {
    return { kind: 'forward', text: event }
  }
  state.firstEventAt ??= performance.now()
  if (chunk.error !== undefined) return { kind: 'error', error: upstreamErrorFromStreamFrame(chunk) }

  const usage = chunk.usage
  if (typeof usage === 'object' && usage !== null) {
    // cumulative: the last valid figure wins, never a sum (an invalid one is not billed: the last valid one stands)
    const valid = usageOf(usage)
    if (valid) {
      state.usage = valid
      state.usageText = null
    }
  }
  const choices = Array.isArray(chunk.choices) ? (chunk.choices as Array<Record<string, unknown>>) : []
  for (const choice of choices) {
    const text = contentOf(choice)
    if (text === null) continue
    state.countedCompletionTokens++
    state.countedTextBytes += utf8Length(text)
  }

  if (choices.length === 0 && usage) return options.clientWantsUsage ? { kind: 'forward', text: event } : { kind: 'skip' }
  if (usage !== undefined && !options.clientWantsContinuousUsage) return { kind: 'forward', text: `data: ${withoutUsage(data, chunk)}\n\n` }
  return { kind: 'forward', text: event }
}

/**
 * The event's JSON without its top-level usage field. Cut out of the text as the node wrote it when that is
 * exactly the field (re-serializing every event of every stream cost a fifth of the relay's time); otherwise,
 * from the parsed chunk.
 */
function withoutUsage(data: string, chunk: Record<string, unknown>): string {
  const field = `,"usage":${JSON.stringify(chunk.usage)}`
  const at = data.lastIndexOf(field)
  // A key in the text is an unescaped quote, so this can only be the top-level field if it ends the object.
  // (Not for data split over several lines: the event written out is one line.)
  if (at !== -1 && at + field.length === data.length - 1 && data.endsWith('}') && !data.includes('\n')) return data.slice(0, at) + data.slice(at + field.length)
  const { usage: _, ...rest } = chunk
  return JSON.stringify(rest)
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
