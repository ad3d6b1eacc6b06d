// Retention that keeps exactly-once: pruning drops tombstones only past the dedupe horizon, a redelivery inside
// it still counts nothing twice, an older one is flagged (dead letter beyond_dedupe_horizon) and not counted, and
// what the reports, the reconciliation and the meter push read survives the pruning.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { pushMeterUsage } from '../../src/services/billing/meter-push.ts'
import { replayAge } from '../../src/services/usage/usage-dead-letters.ts'
import { writeLedger } from '../../src/services/usage/ledger-write.ts'
import { DEDUPE_HORIZON_MS, PRUNE_MARGIN_MS, pruneUsage } from '../../src/services/usage/usage-retention.ts'
import { admin } from '../helpers/gateway.ts'
import { seedCustomerTenant } from '../helpers/stripe-events.ts'
import { deliver, hourlyRows, ledgerRows, usageEvent } from '../helpers/usage.ts'
import { seedPrice } from '../helpers/prices.ts'

const HOUR = 3_600_000
const stripeEnv = { ...env, STRIPE_API_BASE: inject('stripeStandin') }
const json = async (path: string) => (await admin(path)).json()

describe('usage retention', () => {
  // The meter push carries money: at $1/M both ways one token is one micro-dollar.
  beforeAll(() => Promise.all([seedPrice('model-0', 1_000_000, 1_000_000), seedPrice('model-1', 1_000_000, 1_000_000)]))

  it('prunes only past the horizon, dedupes inside it, flags an older redelivery, and keeps every figure', async () => {
    const { tenantId: t } = await seedCustomerTenant()
    const node = `node-${t}`
    const now = Date.now()
    const oldAt = now - DEDUPE_HORIZON_MS - PRUNE_MARGIN_MS - HOUR
    const old = usageEvent(t, 0, { createdAt: oldAt, nodeId: node, promptTokens: 40, completionTokens: 2 })
    const fresh = usageEvent(t, 1, { createdAt: now - HOUR, nodeId: node, promptTokens: 5, completionTokens: 7 })
    await writeLedger(env.DB, [old], { now: oldAt }) // written back then, inside its horizon
    await deliver([fresh])
    const oldHour = oldAt - (oldAt % HOUR)
    const range = `from=${oldHour - 2 * HOUR}&to=${now + HOUR}`
    const before = {
      hourly: await hourlyRows(t),
      usage: await json(`/admin/tenants/${t}/usage?${range}`),
      reconcile: await json(`/admin/usage/reconcile?${range}`),
    }

    const report = await pruneUsage(env.DB, now)
    expect(report).toMatchObject({ events: 1, isComplete: true })
    expect((await ledgerRows(t)).map((r) => r.request_id)).toEqual([fresh.requestId])

    // Inside the horizon the tombstone is there: a redelivery writes nothing.
    await deliver([fresh], { attempts: 2 })
    // Past it the tombstone may be gone: the redelivery is flagged, not counted.
    const parked: unknown[] = []
    const dlq = {
      sendBatch: async (msgs: { body: unknown }[]) => {
        parked.push(...msgs.map((m) => m.body))
      },
      send: async () => {},
    }
    const late = await deliver([{ events: [old] }], { env: { ...env, USAGE_EVENTS_DLQ: dlq as unknown as Queue }, ids: [`${t}-late`] })
    expect(late.explicitAcks).toEqual([`${t}-late`])
    expect(parked).toMatchObject([{ reason: 'beyond_dedupe_horizon', body: old }])

    expect(await hourlyRows(t)).toEqual(before.hourly)
    expect(await json(`/admin/tenants/${t}/usage?${range}`)).toEqual(before.usage)
    expect(await json(`/admin/usage/reconcile?${range}`)).toEqual(before.reconcile)
    expect(before.usage).toMatchObject({ requests: 2, prompt_tokens: 45, completion_tokens: 9 })

    // The meter push reads the rollup: the pruned event's hour is still billed in full.
    await pushMeterUsage(stripeEnv, now)
    const { results } = await env.DB.prepare('SELECT hour_start, value FROM meter_pushes WHERE tenant_id = ? ORDER BY hour_start')
      .bind(t)
      .all<{ hour_start: number; value: number }>()
    expect(results.find((r) => r.hour_start === oldHour)?.value).toBe(42)
  })

  it('keeps the tombstone of a pending dead letter, so its replay is exact at any age', async () => {
    const t = `t-${crypto.randomUUID().slice(0, 8)}`
    const now = Date.now()
    const oldAt = now - DEDUPE_HORIZON_MS - PRUNE_MARGIN_MS - HOUR
    const event = usageEvent(t, 0, { createdAt: oldAt })
    await writeLedger(env.DB, [event], { now: oldAt })
    await env.DB.prepare(`INSERT INTO usage_dead_letters (id, message_id, request_id, tenant_id, reason, body, attempts, first_seen_at, last_seen_at, status)
      VALUES (?1, 'm', ?2, ?3, 'retries_exhausted', ?4, 1, ?5, ?5, 'pending')`)
      .bind(`req:${event.requestId}`, event.requestId, t, JSON.stringify(event), oldAt + 60_000)
      .run()
    await pruneUsage(env.DB, now)
    expect(await ledgerRows(t)).toHaveLength(1) // kept for the pending dead letter
    const res = await admin('/admin/usage/dead-letters/replay', { method: 'POST', json: { ids: [`req:${event.requestId}`] } })
    expect(await res.json()).toMatchObject({ replayed: 1, inserted: 0, duplicates: 1 })
    expect((await hourlyRows(t)).reduce((n, r) => n + r.requests, 0)).toBe(1)
  })

  it('prunes in bounded chunks and stops when its statement budget is spent', async () => {
    const t = `t-${crypto.randomUUID().slice(0, 8)}`
    const now = Date.now()
    const oldAt = now - DEDUPE_HORIZON_MS - PRUNE_MARGIN_MS - HOUR
    await pruneUsage(env.DB, now) // whatever the tests before left past the horizon
    await writeLedger(
      env.DB,
      Array.from({ length: 25 }, (_, i) => usageEvent(t, i, { createdAt: oldAt + i })),
      { now: oldAt },
    )
    const partial = await pruneUsage(env.DB, now, 2, 10)
    expect(partial).toMatchObject({ events: 20, statements: 2, isComplete: false })
    expect(await ledgerRows(t)).toHaveLength(5)
    expect(await pruneUsage(env.DB, now, 10, 10)).toMatchObject({ events: 5, isComplete: true })
    expect(await ledgerRows(t)).toEqual([])
  })

  it("decides a replay's age from the event and when its dead letter was stored", () => {
    const now = Date.now()
    const e = (createdAt: number) => usageEvent('t-age', 0, { createdAt })
    expect(replayAge({ status: 'pending', firstSeenAt: now }, e(now - HOUR), now)).toBe('fresh')
    expect(replayAge({ status: 'pending', firstSeenAt: now - 2 * DEDUPE_HORIZON_MS }, e(now - 2 * DEDUPE_HORIZON_MS - HOUR), now)).toBe('kept')
    expect(replayAge({ status: 'replayed', firstSeenAt: now - 2 * DEDUPE_HORIZON_MS }, e(now - 2 * DEDUPE_HORIZON_MS - HOUR), now)).toBe('beyond')
    expect(replayAge({ status: 'pending', firstSeenAt: now }, e(now - DEDUPE_HORIZON_MS - HOUR), now)).toBe('beyond')
  })
})
