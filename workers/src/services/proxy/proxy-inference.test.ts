import { afterEach, describe, expect, it, vi } from 'vitest'
import type { UsageEvent } from '../../schemas/usage-event.ts'
import { sendUsage } from './proxy-inference.ts'

const event: UsageEvent = {
  requestId: 'send-usage-0001', tenantId: 't-send', keyId: 'k', model: 'm', nodeId: 'n', endpoint: 'chat.completions',
  promptTokens: 12, completionTokens: 34, outcome: 'completed', httpStatus: 200, usageSource: 'node', latencyMs: 5, ttftMs: 2, createdAt: 1_700_000_000_000,
}

/** A stand-in for the USAGE_EVENTS binding whose first `failures` sends reject. */
function flakyQueue(failures: number) {
  const calls: unknown[] = []
  return {
    calls,
    send: async (body: unknown) => {
      calls.push(body)
      if (calls.length <= failures) throw new Error('Queue send failed: internal error')
    },
  }
}

const loggedLines = (spy: { mock: { calls: unknown[][] } }) =>
  spy.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)

afterEach(() => { vi.restoreAllMocks() })

describe('sendUsage', () => {
  it('retries a rejected send until the queue takes the event', async () => {
    const queue = flakyQueue(2)
    const logSpy = vi.spyOn(console, 'log')
    await sendUsage(queue, event, 1)
    expect(queue.calls).toEqual([event, event, event])
    expect(loggedLines(logSpy).filter((l) => l.msg === 'usage_send_failed')).toEqual([])
  })

  it('gives up after 4 attempts without rejecting, logging usage_send_failed with the whole event', async () => {
    const queue = flakyQueue(Infinity)
    const logSpy = vi.spyOn(console, 'log').mockImplementation(() => {})
    await expect(sendUsage(queue, event, 1)).resolves.toBeUndefined()
    expect(queue.calls).toHaveLength(4)
    expect(loggedLines(logSpy)).toEqual([expect.objectContaining({ level: 'error', msg: 'usage_send_failed', attempts: 4, event })])
  })
})
