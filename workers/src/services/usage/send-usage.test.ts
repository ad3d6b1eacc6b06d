import { afterEach, describe, expect, it, vi } from 'vitest'
import type { UsageEvent } from '../../schemas/usage-event.ts'
import { sendUsage } from './send-usage.ts'

const eventOf = (requestId: string): UsageEvent => ({
  requestId, tenantId: 't-send', keyId: 'k', model: 'm', nodeId: 'n', endpoint: 'chat.completions',
  promptTokens: 12, completionTokens: 34, outcome: 'completed', httpStatus: 200, usageSource: 'node', latencyMs: 5, ttftMs: 2, createdAt: 1_700_000_000_000,
})
const event = eventOf('send-usage-0001')

/** A stand-in for the USAGE_EVENTS binding whose first `failures` batches reject; records each batch's bodies. */
function flakyQueue(failures: number) {
  const batches: UsageEvent[][] = []
  return {
    batches,
    sendBatch: async (messages: Iterable<{ body: UsageEvent; contentType: 'json' }>) => {
      batches.push([...messages].map((m) => m.body))
      if (batches.length <= failures) throw new Error('Queue send failed: internal error')
    },
  }
}

const loggedLines = (spy: { mock: { calls: unknown[][] } }) =>
  spy.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)

afterEach(() => { vi.restoreAllMocks() })

describe('sendUsage', () => {
  it('sends the events of requests that end together in one batch, once', async () => {
    const queue = flakyQueue(0)
    const first = sendUsage(queue, eventOf('together-1'))
    const second = sendUsage(queue, eventOf('together-2'))
    await Promise.all([first, second])
    expect(queue.batches.map((b) => b.map((e) => e.requestId))).toEqual([['together-1', 'together-2']])
  })

  it('sends a full batch at once, 100 events', async () => {
    const queue = flakyQueue(0)
    const sends = Array.from({ length: 100 }, (_, i) => sendUsage(queue, eventOf(`full-${i}`)))
    expect(queue.batches).toHaveLength(1) // before any timer ran
    await Promise.all(sends)
    expect(queue.batches[0]).toHaveLength(100)
  })

  it('retries a rejected batch until the queue takes it', async () => {
    const queue = flakyQueue(2)
    const logSpy = vi.spyOn(console, 'log')
    await sendUsage(queue, event, 1)
    expect(queue.batches).toEqual([[event], [event], [event]])
    expect(loggedLines(logSpy).filter((l) => l.msg === 'usage_send_failed')).toEqual([])
  })

  it('gives up after 4 attempts without rejecting, logging usage_send_failed with each whole event', async () => {
    const queue = flakyQueue(Infinity)
    const logSpy = vi.spyOn(console, 'log').mockImplementation(() => {})
    const other = eventOf('send-usage-0002')
    const sent = sendUsage(queue, event, 1)
    void sendUsage(queue, other, 1)
    await expect(sent).resolves.toBeUndefined()
    expect(queue.batches).toHaveLength(4)
    expect(loggedLines(logSpy)).toEqual([
      expect.objectContaining({ level: 'error', msg: 'usage_send_failed', attempts: 4, event }),
      expect.objectContaining({ level: 'error', msg: 'usage_send_failed', attempts: 4, event: other }),
    ])
  })
})
