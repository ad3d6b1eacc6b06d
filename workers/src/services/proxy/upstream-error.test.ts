import { describe, expect, it } from 'vitest'
import { errorBody } from '../../errors.ts'
import { contextRoomOf, upstreamErrorFromResponse, upstreamErrorFromStreamFrame } from './upstream-error.ts'

describe('upstreamErrorFromResponse', () => {
  it("reads vLLM's current shape (integer code)", () => {
    const e = upstreamErrorFromResponse(
      400,
      JSON.stringify({ error: { message: 'max_tokens too large', type: 'BadRequestError', param: 'max_tokens', code: 400 } }),
    )
    expect(errorBody(e)).toEqual({ error: { message: 'max_tokens too large', type: 'invalid_request_error', param: 'max_tokens', code: 'invalid_request' } })
  })
  it("reads vLLM's old flat shape", () => {
    const e = upstreamErrorFromResponse(
      404,
      JSON.stringify({ object: 'error', message: 'The model `x` does not exist.', type: 'NotFoundError', param: null, code: 404 }),
    )
    expect(e.status).toBe(404)
    expect(errorBody(e).error).toMatchObject({ message: 'The model `x` does not exist.', code: 'model_not_found', param: 'model' })
  })
  it("treats the node's string 401 as a gateway fault, not the client's", () => {
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

describe('contextRoomOf', () => {
  const vllm = (message: string) => JSON.stringify({ error: { message, type: 'BadRequestError', param: null, code: 400 } })
  it("reads the room left for the completion from vLLM's current message", () => {
    expect(
      contextRoomOf(
        vllm(
          "'max_tokens' or 'max_completion_tokens' is too large: 8000. This model's maximum context length is 4096 tokens and your request has 2778 input tokens (8000 > 4096 - 2778). None",
        ),
      ),
    ).toBe(1318)
  })
  it('reads it from the older message too', () => {
    expect(
      contextRoomOf(
        vllm(
          "This model's maximum context length is 8192 tokens. However, you requested 9099 tokens (5003 in the messages, 4096 in the completion). Please reduce the length of the messages or completion.",
        ),
      ),
    ).toBe(3189)
  })
  it('is null for any other 400, and when the prompt alone fills the context', () => {
    expect(contextRoomOf(vllm('temperature must be non-negative'))).toBeNull()
    expect(
      contextRoomOf(
        vllm(
          "This model's maximum context length is 8192 tokens. However, your request has 9000 input tokens. Please reduce the length of the input messages.",
        ),
      ),
    ).toBeNull()
    expect(contextRoomOf('not json')).toBeNull()
  })
})
