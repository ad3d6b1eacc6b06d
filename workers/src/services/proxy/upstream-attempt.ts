// One attempt at one node: the POST under the connect and first-byte timeouts and, for a stream, the read of
// its first chunk before anything is committed to the client. Everything that can go wrong before that
// first byte is returned as data, so forward-inference.ts can retry it on another node; classifyFailure says
// what each failure means for the client, the breaker and the retry.
import { ApiError } from '../../errors.ts'
import { upstreamErrorFromResponse } from './upstream-error.ts'

export type AttemptInput = {
  url: string
  headers: Record<string, string>
  body: string
  isStream: boolean
  clientSignal: AbortSignal
  /** Streams only: until the response headers (see UPSTREAM_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs: number
  /** Until the first chunk of a stream, or the whole answer of a non-streamed request. */
  firstByteTimeoutMs: number
}

export type FailureKind = 'connect_error' | 'connect_timeout' | 'first_byte_timeout' | 'lost_before_first_byte'

export type AttemptResult =
  /** Headers and a first chunk arrived: `body` replays that chunk, then the rest. The client listener stays attached until `detach`. */
  | { kind: 'stream'; body: ReadableStream<Uint8Array>; abortUpstream: () => void; detach: () => void }
  | { kind: 'json'; text: string }
  | { kind: 'node_error'; status: number; text: string }
  | { kind: 'failed'; failure: FailureKind; detail: string }
  | { kind: 'client_aborted' }

/** Replays an already-read first chunk, then pulls the rest from `reader`; its errors reach the consumer. */
function prepend(first: Uint8Array, reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let pending: Uint8Array | null = first
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending) { controller.enqueue(pending); pending = null; return }
      const { value, done } = await reader.read()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    cancel: (reason) => reader.cancel(reason),
  })
}

export async function attemptUpstream(a: AttemptInput): Promise<AttemptResult> {
  const controller = new AbortController()
  const onClientAbort = () => controller.abort()
  a.clientSignal.addEventListener('abort', onClientAbort)
  const detach = () => a.clientSignal.removeEventListener('abort', onClientAbort)
  let timedOut: 'connect_timeout' | 'first_byte_timeout' | null = null
  const arm = (kind: 'connect_timeout' | 'first_byte_timeout', ms: number) => setTimeout(() => { timedOut ??= kind; controller.abort() }, ms)
  const firstByteTimer = arm('first_byte_timeout', a.firstByteTimeoutMs)
  const connectTimer = a.isStream && a.connectTimeoutMs < a.firstByteTimeoutMs ? arm('connect_timeout', a.connectTimeoutMs) : undefined
  const failed = (failure: FailureKind, err: unknown): AttemptResult => {
    if (a.clientSignal.aborted) return { kind: 'client_aborted' }
    return { kind: 'failed', failure: timedOut ?? failure, detail: err instanceof Error ? err.message : String(err) }
  }
  let isCommitted = false
  try {
    let res: Response
    try {
      res = await fetch(a.url, { method: 'POST', headers: a.headers, body: a.body, signal: controller.signal })
    } catch (err) {
      return failed('connect_error', err)
    } finally {
      clearTimeout(connectTimer)
    }
    if (!res.ok) return { kind: 'node_error', status: res.status, text: await res.text().catch(() => '') }
    if (!a.isStream || !res.body) {
      try { return { kind: 'json', text: await res.text() } } catch (err) { return failed('lost_before_first_byte', err) }
    }
    const reader = res.body.getReader()
    let first: ReadableStreamReadResult<Uint8Array>
    try { first = await reader.read() } catch (err) { return failed('lost_before_first_byte', err) }
    if (first.done) return failed('lost_before_first_byte', 'the node closed the stream before sending anything')
    isCommitted = true
    return { kind: 'stream', body: prepend(first.value, reader), abortUpstream: () => controller.abort(), detach }
  } finally {
    clearTimeout(firstByteTimer)
    clearTimeout(connectTimer)
    if (!isCommitted) { detach(); controller.abort() } // frees the connection of a failed attempt
  }
}

export type FailureVerdict = {
  error: ApiError
  /** Counts as a failure for the node's breaker (connect error, timeout, 5xx, lost connection). */
  isNodeFault: boolean
  /** Safe and useful to try again on another node: nothing reached the client, and the node, not the request, failed. */
  isRetryable: boolean
  /** The node received the request (it is then the one the usage ledger names). */
  reachedNode: boolean
  /** A retry may use this node again if nothing else is left (not after a timeout: it would eat the deadline again). */
  mayRetrySameNode: boolean
}

const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([502, 503, 504])

/**
 * A node's 500 is not retried (it may be this request that crashes the engine: retrying would spread it),
 * except on a probe, whose node is already suspect. It still counts against the node's breaker.
 */
export function classifyFailure(result: Extract<AttemptResult, { kind: 'node_error' | 'failed' }>, isProbe: boolean): FailureVerdict {
  if (result.kind === 'node_error') {
    const isNodeFault = result.status >= 500
    return {
      error: upstreamErrorFromResponse(result.status, result.text), isNodeFault, reachedNode: true, mayRetrySameNode: true,
      isRetryable: RETRYABLE_STATUSES.has(result.status) || (isProbe && isNodeFault),
    }
  }
  const base = { isNodeFault: true, isRetryable: true }
  switch (result.failure) {
    case 'connect_error': // Workers' fetch reports a refused and a dropped connection alike: the node may have had the request
      return { ...base, reachedNode: false, mayRetrySameNode: true, error: new ApiError('bad_gateway', 'Could not reach the model node', { code: 'upstream_unreachable' }) }
    case 'connect_timeout':
      return { ...base, reachedNode: true, mayRetrySameNode: false, error: new ApiError('upstream_timeout', 'The model node did not accept the request in time', { code: 'upstream_connect_timeout' }) }
    case 'first_byte_timeout':
      return { ...base, reachedNode: true, mayRetrySameNode: false, error: new ApiError('upstream_timeout', 'The model node did not answer in time', { code: 'upstream_timeout' }) }
    case 'lost_before_first_byte':
      return { ...base, reachedNode: true, mayRetrySameNode: true, error: new ApiError('bad_gateway', 'The connection to the model node was lost before it answered', { code: 'upstream_connection_lost' }) }
    default: {
      const unreachable: never = result.failure
      throw new Error(`unhandled attempt failure ${String(unreachable)}`)
    }
  }
}
