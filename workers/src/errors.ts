// The only code that shapes error JSON: OpenAI's envelope {error: {message, type, param, code}} with the
// status the openai SDKs map to the right error class. Everything that fails ends up here (app.onError).
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { AppEnv } from './env.ts'
import { log } from './log.ts'

const KINDS = {
  invalid_request: [400, 'invalid_request_error'],
  unauthorized: [401, 'authentication_error'],
  forbidden: [403, 'permission_error'],
  not_found: [404, 'invalid_request_error'],
  conflict: [409, 'invalid_request_error'],
  payload_too_large: [413, 'invalid_request_error'],
  rate_limited: [429, 'rate_limit_error'],
  quota_exceeded: [429, 'insufficient_quota'],
  internal: [500, 'server_error'],
  bad_gateway: [502, 'server_error'],
  upstream_unavailable: [503, 'server_error'],
  /** D1, a Durable Object or a Queue failed (dependency.ts); always with a jittered Retry-After. */
  dependency_unavailable: [503, 'server_error'],
  upstream_timeout: [504, 'server_error'],
} as const satisfies Record<string, readonly [number, string]>

export type ApiErrorKind = keyof typeof KINDS
/** The table (status, type) per kind, read by the OpenAPI document (workers/src/openapi/). */
export const ERROR_KINDS: Readonly<typeof KINDS> = KINDS
type ErrorExtra = { code?: string; param?: string | null; headers?: Record<string, string> }

export class ApiError extends Error {
  readonly kind: ApiErrorKind
  readonly extra: ErrorExtra
  constructor(kind: ApiErrorKind, message: string, extra: ErrorExtra = {}) {
    super(message)
    this.kind = kind
    this.extra = extra
  }
  get status(): number {
    return KINDS[this.kind][0]
  }
}

/** The wire body for an error; also used for the final `data:` event of a broken SSE stream. */
export function errorBody(e: ApiError) {
  return { error: { message: e.message, type: KINDS[e.kind][1], param: e.extra.param ?? null, code: e.extra.code ?? e.kind } }
}

export function errorResponse(e: ApiError, requestId: string | undefined): Response {
  const headers = new Headers({ 'content-type': 'application/json', ...e.extra.headers })
  if (requestId) headers.set('x-request-id', requestId)
  return new Response(JSON.stringify(errorBody(e)), { status: e.status, headers })
}

function fromHttpException(err: HTTPException): ApiError {
  switch (err.status) {
    case 400:
      return new ApiError('invalid_request', err.message || 'Invalid request')
    case 401:
      return new ApiError('unauthorized', err.message || 'Unauthorized')
    case 404:
      return new ApiError('not_found', err.message || 'Not found')
    case 413:
      return new ApiError('payload_too_large', err.message || 'Request body too large')
    default:
      return new ApiError('internal', 'Internal server error')
  }
}

export function onError(err: Error, c: Context<AppEnv>): Response {
  const requestId = c.get('requestId')
  if (err instanceof ApiError) return errorResponse(err, requestId)
  if (err instanceof HTTPException) return errorResponse(fromHttpException(err), requestId)
  log.error('unhandled_error', { request_id: requestId, route: c.req.routePath, error: String(err), stack: err.stack })
  return errorResponse(new ApiError('internal', 'Internal server error'), requestId)
}
