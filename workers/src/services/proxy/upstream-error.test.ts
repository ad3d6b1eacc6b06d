import { describe, expect, it } from 'vitest'
import { errorBody } from '../../errors.ts'
import { upstreamErrorFromResponse, upstreamErrorFromStreamFrame } from './upstream-error.ts'

describe('upstreamErrorFromResponse', () => {
  it('reads vLLM\'s current shape (integer code)', () => {
    const e = upstreamErrorFromResponse(400, JSON.stringify({ error: { message: 'max_tokens too large', type: 'BadRequestError', param: 'max_tokens', code: 400 } }))
    expect(errorBody(e)).toEqual({ error: { message: 'max_tokens too large', type: 'invalid_request_error', param: 'max_tokens', code: 'invalid_request' } })
  })
  it('reads vLLM\'s old flat shape', () => {
    const e = upstreamErrorFromResponse(404, JSON.stringify({ object: 'error', message: 'The model `x` does not exist.', type: 'NotFoundError', param: null, code: 404 }))
    expect(e.status).toBe(404)
    expect(errorBody(e).error).toMatchObject({ message: 'The model `x` does not exist.', code: 'model_not_found', param: 'model' })
  })
  it('treats the node\'s string 401 as a gateway fault, not the client\'s', () => {
    const e = upstreamErrorFromResponse(401, '{"error":"Unauthorized"}')
    expect(e.status).toBe(502)
    expect(errorBody(e).error.code).toBe('upstream_auth_failed')
  })
  it('maps 5xx and non-JSON bodies to 502', () => {
    expect(upstreamErrorFromResponse(500, 'boom').status).toBe(502)
    expect(upstreamErrorFromResponse(503, '').status).toBe(503)
  })
  it('keeps the message of a mid-stream frame', () => {
    expect(upstreamErrorFromStreamFrame({ error: { message: 'engine dead', type: 'InternalServerError', code: 500 } }).message).toContain('engine dead')
  })
})
