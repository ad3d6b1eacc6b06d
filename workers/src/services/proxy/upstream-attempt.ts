// One attempt at one node: a stream's POST under the connect and first-byte timeouts and the read of its first
// chunk before anything is committed to the client; a non-streamed POST under one total timeout. Everything
// that can go wrong before the client hears anything is returned as data, so forward-inference.ts can retry it
// on another node; classifyFailure says what each failure means for the client, the breaker and the retry.
import { ApiError } from '../../errors.ts'
import { readCappedMessageText } from '../../read-capped.ts'
import type { UpstreamBody } from './sse-relay.ts'
import { upstreamErrorFromResponse } from './upstream-error.ts'

/**
 * Largest non-streamed answer read (16 MiB): an isolate has 128 MB shared by all its requests (platform-facts.md
 * §10), and the answer is parsed once more for its usage. Beyond it the answer is a 502, never buffered whole.
 */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024
/** Largest node error body read: only its message and param are used. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024

export type AttemptInput = {
  url: string
  headers: Record<string, string>
  body: string
  isStream: boolean
  clientSignal: AbortSignal
  /** Streams only: until the response headers (see UPSTREAM_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs: number
  /** Streams only: until their first chunk. */
  firstByteTimeoutMs: number
  /**
   * Non-streamed requests only: until the whole answer. vLLM sends such an answer's headers only with its body,
   * so a long generation would look like a first-byte timeout (see UPSTREAM_REQUEST_TIMEOUT_MS).
   */
  requestTimeoutMs: number
}

/** `request_timeout`: a non-streamed answer took too long; the node had the request and was generating it. */
/** `answer_too_large`: a non-streamed answer passed MAX_ANSWER_BYTES (the node generated it: not replayed). */
export type FailureKind = 'connect_error' | 'connect_timeout' | 'first_byte_timeout' | 'request_timeout' | 'lost_before_first_byte' | 'answer_too_large'

export type AttemptResult =
  /**
   * Headers and a first chunk arrived: `first`, then the rest from `reader` (handed on as they are: a JS stream
   * wrapped around them would cost a pull per event). The client listener stays attached until `detach`.
   */
  | { kind: 'stream'; body: UpstreamBody; abortUpstream: () => void; detach: () => void }
  | { kind: 'json'; text: string }
  | { kind: 'node_error'; status: number; text: string }
  | { kind: 'failed'; failure: FailureKind; detail: string }
  | { kind: 'client_aborted' }

export async function attemptUpstream(a: AttemptInput): Promise<AttemptResult> {
  const controller = new AbortController()
  const onClientAbort = () => controller.abort()
  a.clientSignal.addEventListener('abort', onClientAbort)
  const detach = () => a.clientSignal.removeEventListener('abort', onClientAbort)
  type Timeout = 'connect_timeout' | 'first_byte_timeout' | 'request_timeout'
  let timedOut: Timeout | null = null
  const arm = (kind: Timeout, ms: number) =>
    setTimeout(() => {
      timedOut ??= kind
      controller.abort()
    }, ms)
  const firstByteTimer = a.isStream ? arm('first_byte_timeout', a.firstByteTimeoutMs) : arm('request_timeout', a.requestTimeoutMs)
  const connectTimer = a.isStream && a.connectTimeoutMs < a.firstByteTimeoutMs ? arm('connect_timeout', a.connectTimeoutMs) : undefined
  const failed = (failure: FailureKind, err: unknown): AttemptResult => {
    if (a.clientSignal.aborted) return { kind: 'client_aborted' }
    return { kind: 'failed', failure: timedOut ?? failure, detail: err instanceof Error ? err.message : String(err) }
  }
  let isCommitted = false
  /** The body was read to its end: the connection is done, nothing to abort. */
  let isDrained = false
  try {
    let res: Response
    try {
      // A node's redirect is not followed: it is a node error (a 3xx status), never a request to somewhere else.
      res = await fetch(a.url, { method: 'POST', headers: a.headers, body: a.body, signal: controller.signal, redirect: 'manual' })
    } catch (err) {
      return failed('connect_error', err)
    } finally {
      // Once, and only when armed: clearTimeout is node's Timeout machinery in workerd, 21 µs per request over
      // the three calls this made (bench:profile, streamed, 2026-12-05).
      if (connectTimer !== undefined) clearTimeout(connectTimer)
    }
    if (!res.ok) {
      // Past the cap only the status is used (the message is then the generic one).
      const read = await readCappedMessageText(res, MAX_ERROR_BODY_BYTES).catch(() => null)
      isDrained = read?.ok === true
      return { kind: 'node_error', status: res.status, text: read?.ok ? read.text : '' }
    }
    if (!a.isStream || !res.body) {
      let read: Awaited<ReturnType<typeof readCappedMessageText>>
      try {
        read = await readCappedMessageText(res, MAX_ANSWER_BYTES)
      } catch (err) {
        return failed('lost_before_first_byte', err)
      }
      if (!read.ok) return failed('answer_too_large', `the answer passed ${MAX_ANSWER_BYTES} bytes`)
      isDrained = true
      return { kind: 'json', text: read.text }
    }
    const reader = res.body.getReader()
    let first: ReadableStreamReadResult<Uint8Array>
    try {
      first = await reader.read()
    } catch (err) {
      return failed('lost_before_first_byte', err)
    }
    if (first.done) return failed('lost_before_first_byte', 'the node closed the stream before sending anything')
    isCommitted = true
    return { kind: 'stream', body: { first: first.value, reader }, abortUpstream: () => controller.abort(), detach }
  } finally {
    clearTimeout(firstByteTimer) // the connect timer was cleared once fetch() ended, above
    if (!isCommitted) detach()
    if (!isCommitted && !isDrained) controller.abort() // frees the connection of a failed attempt
  }
}

export type FailureVerdict = {
  error: ApiError
  /** Counts as a failure for the node's breaker (connect error, timeout, 5xx, lost connection). */
  isNodeFault: boolean
  /**
   * Safe and useful to try again on another node: nothing reached the client, the node, not the request, failed,
   * and the node did not spend GPU time on it (a timed-out generation is not replayed on another GPU).
   */
  isRetryable: boolean
  /** The node received the request (it is then the one the usage ledger names). */
  reachedNode: boolean
  /**
   * A retry may use this node again if nothing else is left (not after a timeout: it would eat the deadline
   * again; not after a 500: the same engine would likely fail the same request again).
   */
  mayRetrySameNode: boolean
  /**
   * At most ONE more attempt follows this failure, whatever it brings (a node's 500: the request itself may be
   * what crashes engines, so it must not walk the fleet), and it goes to another node at once, without backoff.
   */
  isLastChance: boolean
}

const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([502, 503, 504])

/**
 * A node's 500 is retried once, on another node only (it may be this request that crashes the engine: one more
 * engine at most, never the same one); clients such as curl do not retry, and two nodes serving a model with one
 * of them failing would otherwise fail every request it got until its breaker opened. It still counts against
 * the node's breaker.
 */
export function classifyFailure(result: Extract<AttemptResult, { kind: 'node_error' | 'failed' }>, isProbe: boolean): FailureVerdict {
  if (result.kind === 'node_error') {
    // A redirect is the node's misconfiguration (or an attempt to send us elsewhere): its fault, and another node may serve.
    const isRedirect = result.status < 400
    const isNodeFault = result.status >= 500 || isRedirect
    const isEngineError = result.status === 500
    return {
      error: upstreamErrorFromResponse(result.status, result.text),
      isNodeFault,
      reachedNode: true,
      mayRetrySameNode: !isRedirect && !isEngineError,
      isRetryable: RETRYABLE_STATUSES.has(result.status) || isRedirect || isEngineError || (isProbe && isNodeFault),
      isLastChance: isEngineError,
    }
  }
  const base = { isNodeFault: true, isRetryable: true, isLastChance: false }
  switch (result.failure) {
    case 'connect_error': // Workers' fetch reports a refused and a dropped connection alike: the node may have had the request
      return {
        ...base,
        reachedNode: false,
        mayRetrySameNode: true,
        error: new ApiError('bad_gateway', 'Could not reach the model node', { code: 'upstream_unreachable' }),
      }
    case 'connect_timeout':
      return {
        ...base,
        reachedNode: true,
        mayRetrySameNode: false,
        error: new ApiError('upstream_timeout', 'The model node did not accept the request in time', { code: 'upstream_connect_timeout' }),
      }
    case 'first_byte_timeout':
      return {
        ...base,
        reachedNode: true,
        mayRetrySameNode: false,
        error: new ApiError('upstream_timeout', 'The model node did not answer in time', { code: 'upstream_timeout' }),
      }
    case 'request_timeout': // a slow answer of a working node: not its fault (it must not open breakers), and replaying it would burn another GPU
      return {
        isNodeFault: false,
        isRetryable: false,
        isLastChance: false,
        reachedNode: true,
        mayRetrySameNode: false,
        error: new ApiError('upstream_timeout', 'The model node did not finish the answer in time', { code: 'upstream_timeout' }),
      }
    case 'answer_too_large': // the node generated it: not its fault, and replaying it would burn another GPU
      return {
        isNodeFault: false,
        isRetryable: false,
        isLastChance: false,
        reachedNode: true,
        mayRetrySameNode: false,
        error: new ApiError('bad_gateway', `The model node's answer exceeds the gateway's ${MAX_ANSWER_BYTES} byte limit`, {
          code: 'upstream_answer_too_large',
        }),
      }
    case 'lost_before_first_byte':
      return {
        ...base,
        reachedNode: true,
        mayRetrySameNode: true,
        error: new ApiError('bad_gateway', 'The connection to the model node was lost before it answered', { code: 'upstream_connection_lost' }),
      }
    default: {
      const unreachable: never = result.failure
      throw new Error(`unhandled attempt failure ${String(unreachable)}`)
    }
  }
}
