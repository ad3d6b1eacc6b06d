// Turns whatever a node said when it failed into our ApiError. vLLM has three error shapes: the current
// {"error": {message, type, param, code: <int>}}, the old flat {"object": "error", message, type, param, code},
// and the auth middleware's {"error": "Unauthorized"}.
import { ApiError } from '../../errors.ts'

type Parsed = { message: string; param: string | null }

function parseBody(text: string): Parsed | null {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return null
  }
  if (!body || typeof body !== 'object') return null
  const record = body as Record<string, unknown>
  const inner = record.error
  const source = inner && typeof inner === 'object' ? (inner as Record<string, unknown>) : record
  const message = typeof source.message === 'string' ? source.message : typeof inner === 'string' ? inner : null
  if (!message) return null
  return { message, param: typeof source.param === 'string' ? source.param : null }
}

/** Maps a node's non-2xx answer. Client mistakes keep the node's message; node faults become 502/503. */
export function upstreamErrorFromResponse(status: number, text: string): ApiError {
  const parsed = parseBody(text)
  const message = parsed?.message ?? `The model node answered with HTTP ${status}`
  const param = parsed?.param ?? null
  switch (true) {
    case status === 400 || status === 422:
      return new ApiError('invalid_request', message, { param, code: 'invalid_request' })
    case status === 404:
      return new ApiError('not_found', message, { param: param ?? 'model', code: 'model_not_found' })
    case status === 413:
      return new ApiError('payload_too_large', message)
    case status === 401 || status === 403:
      // The node refused *our* credentials: a gateway misconfiguration, not the client's fault.
      return new ApiError('bad_gateway', "The model node rejected the gateway's credentials", { code: 'upstream_auth_failed' })
    case status >= 300 && status < 400: // redirects are not followed (node fetches use redirect: 'manual')
      return new ApiError('bad_gateway', `The model node answered with a redirect (HTTP ${status}), which the gateway does not follow`, {
        code: 'upstream_redirect',
      })
    case status === 503 || status === 429:
      return new ApiError('upstream_unavailable', 'The model node is overloaded, please retry', {
        code: 'upstream_overloaded',
        headers: { 'retry-after': '1' },
      })
    default:
      return new ApiError('bad_gateway', `The model node failed: ${message}`, { code: 'upstream_error' })
  }
}

/** A mid-stream `data: {"error": ...}` frame from vLLM, as the final error event we send to the client. */
export function upstreamErrorFromStreamFrame(frame: unknown): ApiError {
  const parsed = parseBody(JSON.stringify(frame))
  return new ApiError('bad_gateway', `The model node failed mid-stream: ${parsed?.message ?? 'unknown error'}`, { code: 'upstream_stream_error' })
}

/**
 * Room left for the completion (per sequence) when a node refused a request for exceeding its context length,
 * from vLLM's message, old ("maximum context length is M tokens. However, you requested … (P in the messages, …")
 * or current ("… maximum context length is M tokens and your request has P input tokens …"). Null for any
 * other answer, or when nothing is left for a completion.
 */
export function contextRoomOf(text: string): number | null {
  const message = parseBody(text)?.message ?? ''
  const context = /maximum context length is (\d+) tokens/.exec(message)?.[1]
  const prompt = (/request has (\d+) input tokens/.exec(message) ?? /\((\d+) in the messages/.exec(message))?.[1]
  if (context === undefined || prompt === undefined) return null
  const room = Number(context) - Number(prompt)
  return room >= 1 ? room : null
}
