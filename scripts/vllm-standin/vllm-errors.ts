// vLLM's error bodies, in the current (`{"error":{…,"code":<int>}}`) and legacy (flat `object:"error"`)
// formats, for both plain responses and mid-stream SSE frames. Source: vllm/entrypoints/openai
// (ErrorResponse, create_error_response, create_streaming_error_response).

import type { ErrorFormat } from './knobs.ts'

export type VllmErrorType = 'BadRequestError' | 'NotFoundError' | 'InternalServerError'

export type VllmError = {
  status: 400 | 404 | 500
  type: VllmErrorType
  message: string
  param: string | null
}

export function badRequest(message: string, param: string | null = null): VllmError {
  return { status: 400, type: 'BadRequestError', message, param }
}

export function modelNotFound(model: string): VllmError {
  return { status: 404, type: 'NotFoundError', message: `The model \`${model}\` does not exist.`, param: 'model' }
}

export function internalError(message: string): VllmError {
  return { status: 500, type: 'InternalServerError', message, param: null }
}

function flatError(format: ErrorFormat, e: VllmError) {
  const fields = { message: e.message, type: e.type, param: e.param, code: e.status }
  return format === 'legacy' ? { object: 'error', ...fields } : fields
}

/** JSON body of a non-streaming error response. */
export function errorBody(format: ErrorFormat, e: VllmError): string {
  return JSON.stringify(format === 'legacy' ? flatError(format, e) : { error: flatError(format, e) })
}

/** SSE frame for an error after the 200 header went out; vLLM always wraps it in `error`, then sends [DONE]. */
export function errorFrame(format: ErrorFormat, e: VllmError): string {
  return `data: ${JSON.stringify({ error: flatError(format, e) })}\n\n`
}

/** vLLM's auth middleware answers with a bare string, not the ErrorResponse object. */
export const UNAUTHORIZED_BODY = '{"error":"Unauthorized"}'
