import { describe, expect, it } from 'vitest'
import { errorBody } from '../../errors.ts'
import { classifyFailure } from './upstream-attempt.ts'

const nodeError = (status: number, text = '') => ({ kind: 'node_error' as const, status, text })

describe('classifyFailure', () => {
  it.each([502, 503, 504])("retries a node's %i on another node and counts it against the node", (status) => {
    expect(classifyFailure(nodeError(status), false)).toMatchObject({ isRetryable: true, isNodeFault: true, reachedNode: true })
  })

  it("retries a node's 500 once, never on the same node (the request itself may crash engines), and counts it", () => {
    for (const isProbe of [false, true])
      expect(classifyFailure(nodeError(500), isProbe)).toMatchObject({ isRetryable: true, isLastChance: true, mayRetrySameNode: false, isNodeFault: true })
  })

  it.each([502, 503, 504])("does not limit a node's %i to one retry", (status) => {
    expect(classifyFailure(nodeError(status), false)).toMatchObject({ isLastChance: false, mayRetrySameNode: true })
  })

  it('retries any 5xx of a probe: its node is already suspect', () => {
    expect(classifyFailure(nodeError(501), true)).toMatchObject({ isRetryable: true, isNodeFault: true })
    expect(classifyFailure(nodeError(501), false)).toMatchObject({ isRetryable: false, isNodeFault: true })
  })

  it('passes client errors through without retry and without blaming the node', () => {
    const verdict = classifyFailure(
      nodeError(400, JSON.stringify({ error: { message: 'bad max_tokens', type: 'BadRequestError', param: 'max_tokens', code: 400 } })),
      false,
    )
    expect(verdict).toMatchObject({ isRetryable: false, isNodeFault: false })
    expect(errorBody(verdict.error).error).toMatchObject({ message: 'bad max_tokens', param: 'max_tokens' })
  })

  it('retries timeouts elsewhere but never on the same node', () => {
    for (const failure of ['connect_timeout', 'first_byte_timeout'] as const) {
      const verdict = classifyFailure({ kind: 'failed', failure, detail: '' }, false)
      expect(verdict).toMatchObject({ isRetryable: true, isNodeFault: true, mayRetrySameNode: false })
      expect(verdict.error.status).toBe(504)
    }
  })

  it('answers 504 to a non-streamed answer that took too long, without retrying it or blaming the node', () => {
    const verdict = classifyFailure({ kind: 'failed', failure: 'request_timeout', detail: '' }, false)
    expect(verdict).toMatchObject({ isRetryable: false, isNodeFault: false, reachedNode: true })
    expect(verdict.error.status).toBe(504)
  })

  it('retries lost connections, on the same node too if nothing else is left', () => {
    expect(classifyFailure({ kind: 'failed', failure: 'connect_error', detail: '' }, false)).toMatchObject({
      isRetryable: true,
      mayRetrySameNode: true,
      reachedNode: false,
    })
    expect(classifyFailure({ kind: 'failed', failure: 'lost_before_first_byte', detail: '' }, false)).toMatchObject({
      isRetryable: true,
      mayRetrySameNode: true,
      reachedNode: true,
    })
  })
})

describe('classifyFailure, bounded answers', () => {
  it("treats a node's redirect as its fault: 502, tried on another node, never the same one", () => {
    const verdict = classifyFailure(nodeError(307), false)
    expect(verdict).toMatchObject({ isNodeFault: true, isRetryable: true, mayRetrySameNode: false })
    expect(errorBody(verdict.error).error).toMatchObject({ type: 'server_error', code: 'upstream_redirect' })
    expect(verdict.error.status).toBe(502)
  })

  it('answers 502 to an answer past the byte cap, without retrying it or blaming the node', () => {
    const verdict = classifyFailure({ kind: 'failed', failure: 'answer_too_large', detail: '' }, false)
    expect(verdict).toMatchObject({ isNodeFault: false, isRetryable: false, reachedNode: true })
    expect(verdict.error.status).toBe(502)
  })
})
