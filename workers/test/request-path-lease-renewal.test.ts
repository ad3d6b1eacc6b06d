// A relayed stream renews its admission lease periodically while it runs and stops when it ends, so a stream
// longer than ADMISSION_LEASE_TTL_MS keeps its concurrency slot. Driven over real TCP to the slow stand-in
// (20 tokens/s), calling the forwarder directly so the renewal period can be short.
import { describe, expect, inject, it } from 'vitest'
import { newRequestTiming } from '../src/services/metrics/request-timing.ts'
import { forwardInference } from '../src/services/proxy/forward-inference.ts'
import { readSse } from './helpers/sse.ts'

describe('lease renewal while a stream is relayed', () => {
  it('renews every period until the stream ends, then never again', async () => {
    const renewedAt: number[] = []
    const pending: Promise<unknown>[] = []
    const started = performance.now()
    const res = await forwardInference({
      endpoint: 'chat.completions', requestId: 'lease-renew-0001', startedAt: started,
      body: { model: 'slow-llm', messages: [{ role: 'user', content: 'one two' }], max_tokens: 16, stream: true },
      identity: { tenantId: 't-renew', keyId: 'k', keyLimits: {} }, clientSignal: new AbortController().signal,
      timeouts: { connectMs: 2_000, firstByteMs: 2_000, idleMs: 2_000, requestMs: 2_000 },
      retry: { maxRetries: 0, backoffMs: 1, deadlineMs: 5_000 },
      selectNode: async () => ({ node: { id: 'n-slow', name: 'n-slow', endpoint: inject('standins').slow, models: ['slow-llm'], status: 'ready', apiKey: null }, isProbe: false }),
      reportOutcome: () => {}, releaseProbe: () => {},
      waitUntil: (p) => { pending.push(p) },
      recordUsage: async () => {},
      timing: newRequestTiming(),
      lease: { renew: async () => { renewedAt.push(performance.now()) }, everyMs: 100 },
    })
    expect((await readSse(res)).at(-1)).toBe('[DONE]')
    await Promise.all(pending)
    const endedAt = performance.now()
    expect(renewedAt.length).toBeGreaterThanOrEqual(3) // 16 tokens at 20/s: about 0.8 s of stream
    const count = renewedAt.length
    await new Promise((r) => setTimeout(r, 300))
    expect(renewedAt).toHaveLength(count)
    expect(renewedAt.every((t) => t <= endedAt)).toBe(true)
  })
})
