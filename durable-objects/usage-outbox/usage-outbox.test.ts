// UsageOutbox on its own: one copy per request id, and an alarm that meets a refusing Queue keeps every event and
// arms the next attempt with backoff (the delivery itself is tested end to end in workers/test/usage/usage-outbox.test.ts).
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import type { UsageEvent } from '../../workers/src/schemas/usage-event.ts'
import { OUTBOX_FIRST_DELAY_MS, OUTBOX_MAX_DELAY_MS, outboxRetryDelayMs } from './outbox-schedule.ts'
import type { UsageOutbox } from './usage-outbox.ts'

const eventOf = (requestId: string): UsageEvent => ({
  requestId,
  tenantId: 't-outbox',
  keyId: 'k',
  model: 'm',
  nodeId: 'n',
  endpoint: 'chat.completions',
  promptTokens: 1,
  completionTokens: 2,
  outcome: 'completed',
  httpStatus: 200,
  usageSource: 'node',
  latencyMs: 5,
  ttftMs: null,
  createdAt: Date.now(),
})

describe('UsageOutbox', () => {
  it('stores a request id once and counts only what it took in', async () => {
    const stub = env.USAGE_OUTBOX.getByName(`usage-outbox:test-${crypto.randomUUID()}`)
    expect(await stub.put([eventOf('a'), eventOf('b')])).toEqual({ stored: 2, duplicates: 0 })
    expect(await stub.put([eventOf('b')])).toEqual({ stored: 0, duplicates: 1 })
    expect(await stub.stats()).toEqual({ received: 2, pending: 2 })
  })

  it('keeps every event and backs off when the Queue refuses the re-send', async () => {
    const stub = env.USAGE_OUTBOX.getByName(`usage-outbox:test-${crypto.randomUUID()}`)
    await stub.put([eventOf('c')])
    vi.spyOn(console, 'log').mockImplementation(() => {})
    const alarms = await runInDurableObject(stub, async (outbox: UsageOutbox, state) => {
      const realEnv: unknown = Reflect.get(outbox, 'env')
      Reflect.set(outbox, 'env', {
        ...env,
        USAGE_EVENTS: {
          sendBatch: async () => {
            throw new Error('Queue send failed')
          },
        },
      })
      const seen: number[] = []
      for (let i = 0; i < 2; i++) {
        const before = Date.now()
        await outbox.alarm()
        seen.push(((await state.storage.getAlarm()) ?? 0) - before)
      }
      Reflect.set(outbox, 'env', realEnv)
      return seen
    })
    expect(await stub.stats()).toMatchObject({ pending: 1 })
    expect(alarms[0]).toBeGreaterThanOrEqual(outboxRetryDelayMs(1) - 50)
    expect(alarms[1]).toBeGreaterThanOrEqual(outboxRetryDelayMs(2) - 50)
    vi.restoreAllMocks()
    // With the real Queue back, the next alarm empties it.
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    expect(await stub.stats()).toMatchObject({ pending: 0, received: 1 })
  })

  it('backs off 5 s, doubling, capped at 5 min', () => {
    expect([1, 2, 3, 10, 100].map(outboxRetryDelayMs)).toEqual([OUTBOX_FIRST_DELAY_MS, 10_000, 20_000, OUTBOX_MAX_DELAY_MS, OUTBOX_MAX_DELAY_MS])
  })
})
