// Non-streamed requests have their own total timeout: an answer slower than the first-byte timeout still
// succeeds, and one slower than the total timeout is answered 504 without being replayed on another node
// (the node was generating it) and without counting against the node's breaker. Driven over real TCP to the
// stand-ins, calling the forwarder directly so the timeouts can be chosen per test.
import { describe, expect, inject, it } from 'vitest'
import type { Outcome } from '../../../durable-objects/node-monitor/breaker-state.ts'
import { ApiError, errorResponse } from '../../src/errors.ts'
import type { UsageEvent } from '../../src/schemas/usage-event.ts'
import { newRequestTiming } from '../../src/services/metrics/request-timing.ts'
import type { RoutableNode } from '../../src/services/nodes/node-directory.ts'
import { forwardInference, type ForwardInput } from '../../src/services/proxy/forward-inference.ts'
import { attemptUpstream } from '../../src/services/proxy/upstream-attempt.ts'

const standins = () => inject('standins')
const node = (id: string, endpoint: string): RoutableNode => ({ id, name: id, endpoint, models: ['m'], status: 'ready', engine: 'vllm', apiKey: null })
const chatBody = (model: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, messages: [{ role: 'user', content: 'one two' }], max_tokens: 2, ...extra })

describe('attemptUpstream, non-streamed', () => {
  it('waits for an answer slower than the first-byte timeout, up to the request timeout', async () => {
    const result = await attemptUpstream({
      url: `${standins().healthy}/v1/chat/completions`,
      body: chatBody('cic-demo-llm'),
      isStream: false,
      headers: { 'content-type': 'application/json', 'x-standin-ttft-ms': '600' }, // prefill longer than the first-byte timeout
      clientSignal: new AbortController().signal,
      connectTimeoutMs: 100,
      firstByteTimeoutMs: 200,
      requestTimeoutMs: 5_000,
    })
    expect(result).toMatchObject({ kind: 'json' })
  })

  it('reports request_timeout once the whole answer took longer than the request timeout', async () => {
    const result = await attemptUpstream({
      url: `${standins().hanging}/v1/chat/completions`,
      body: chatBody('hanging-llm'),
      isStream: false,
      headers: { 'content-type': 'application/json' },
      clientSignal: new AbortController().signal,
      connectTimeoutMs: 50,
      firstByteTimeoutMs: 50,
      requestTimeoutMs: 300,
    })
    expect(result).toMatchObject({ kind: 'failed', failure: 'request_timeout' })
  })
})

describe('forwardInference, non-streamed timeout', () => {
  it('answers 504 after one attempt: no replay on the healthy node, nothing against the breaker', async () => {
    const hanging = node('n-hanging', standins().hanging)
    const healthy = node('n-healthy', standins().healthy)
    const selected: string[] = []
    const outcomes: [string, Outcome][] = []
    const usage: UsageEvent[] = []
    const pending: Promise<unknown>[] = []
    const input: ForwardInput = {
      endpoint: 'chat.completions',
      body: { model: 'hanging-llm', messages: [{ role: 'user', content: 'one two' }], max_tokens: 2 },
      identity: { tenantId: 't-timeout', keyId: 'k', keyLimits: {} },
      cacheSalt: null,
      requestId: 'timeout-req-0001',
      startedAt: performance.now(),
      clientSignal: new AbortController().signal,
      timeouts: { connectMs: 1_000, firstByteMs: 1_000, idleMs: 1_000, requestMs: 300 },
      retry: { maxRetries: 3, backoffMs: 1, deadlineMs: 10_000 },
      maxContextTokens: 8192,
      selectNode: async ({ avoid }) => {
        const next = avoid.has(hanging.id) ? healthy : hanging
        selected.push(next.id)
        return { node: next, isProbe: false }
      },
      reportOutcome: (id, outcome) => {
        outcomes.push([id, outcome])
      },
      releaseProbe: () => {},
      waitUntil: (p) => {
        pending.push(p)
      },
      recordUsage: async (event) => {
        usage.push(event)
      },
      timing: newRequestTiming(),
    }
    // The forwarder throws the error the client hears; errors.ts shapes it.
    const res = await forwardInference(input).catch((err: unknown) => {
      if (err instanceof ApiError) return errorResponse(err, input.requestId)
      throw err
    })
    await Promise.all(pending)
    expect(res.status).toBe(504)
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'upstream_timeout' } })
    expect(selected).toEqual(['n-hanging'])
    expect(outcomes).toEqual([])
    expect(usage).toMatchObject([{ nodeId: 'n-hanging', outcome: 'upstream_error', httpStatus: 504, completionTokens: 0 }])
  })
})
