// The usage fallback: a batch the Queue refuses 4 times goes to the UsageOutbox, /metrics counts it, and the
// outbox's alarm re-sends it through the real usage-events Queue so the ledger counts it exactly once.
import { runDurableObjectAlarm } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { USAGE_OUTBOX_SHARDS, usageOutboxName, usageOutboxShard } from '../../../durable-objects/usage-outbox/contract.ts'
import { sendUsage } from '../../src/services/usage/send-usage.ts'
import { call } from '../helpers/gateway.ts'
import { deliver, hourlyRows, ledgerRows, usageEvent } from '../helpers/usage.ts'

const METRICS_TOKEN = 'test-metrics-token-0123456789'
async function metric(name: string): Promise<number> {
  const text = await (await call('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return Number(line?.split(' ')[1])
}

describe('usage outbox', () => {
  it('takes a batch the Queue refused 4 times, counts it, and delivers it exactly once', async () => {
    const t = `t-${crypto.randomUUID().slice(0, 8)}`
    const event = usageEvent(t, 0, { createdAt: Date.now() - 60_000 })
    let sends = 0
    const refusing = {
      sendBatch: async () => {
        sends++
        throw new Error('Queue send failed: internal error')
      },
    }
    vi.spyOn(console, 'log').mockImplementation(() => {})
    const receivedBefore = await metric('cic_usage_fallback_events_total')
    await sendUsage({ USAGE_EVENTS: refusing, USAGE_OUTBOX: env.USAGE_OUTBOX }, event, 1)
    expect(sends).toBe(4)

    const outbox = env.USAGE_OUTBOX.getByName(usageOutboxName(usageOutboxShard(event.requestId)))
    expect(await outbox.stats()).toMatchObject({ pending: 1 })
    expect(await metric('cic_usage_fallback_events_total')).toBe(receivedBefore + 1)
    expect(await metric('cic_usage_fallback_pending')).toBe(1)
    expect(await ledgerRows(t)).toEqual([])

    // The alarm re-sends it to the real Queue; the consumer writes it.
    expect(await runDurableObjectAlarm(outbox)).toBe(true)
    expect(await outbox.stats()).toMatchObject({ pending: 0 })
    await vi.waitFor(async () => expect(await ledgerRows(t)).toHaveLength(1), { timeout: 10_000, interval: 50 })

    // The same event delivered again (the re-send of an object that died before forgetting it) counts nothing.
    await deliver([{ events: [event] }], { ids: [`${t}-again`] })
    expect(await ledgerRows(t)).toHaveLength(1)
    expect((await hourlyRows(t)).reduce((n, r) => n + r.requests, 0)).toBe(1)
    expect(await metric('cic_usage_fallback_pending')).toBe(0)
    vi.restoreAllMocks()
  })

  it('spreads batches over its shards by request id, the same id always to the same shard', () => {
    const shards = new Set(Array.from({ length: 200 }, (_, i) => usageOutboxShard(`req_${i}`)))
    expect(shards.size).toBe(USAGE_OUTBOX_SHARDS)
    expect(usageOutboxShard('req_x')).toBe(usageOutboxShard('req_x'))
  })
})
