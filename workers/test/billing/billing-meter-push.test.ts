// Meter push robustness against the Stripe stand-in over TCP: rows Stripe refuses for good are `rejected` and
// never resent, retries and new hours take turns, a run pages past any fixed cap, and a re-send after Stripe's
// dedupe window is logged as an error.
import { env } from 'cloudflare:workers'
import { afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { pushMeterUsage } from '../../src/services/billing/meter-push.ts'
import { writeLedger } from '../../src/services/usage/ledger-write.ts'
import { admin } from '../helpers/gateway.ts'
import { logsOf } from '../helpers/log-lines.ts'
import { seedPrice } from '../helpers/prices.ts'
import { seedCustomerTenant } from '../helpers/stripe-events.ts'

const HOUR = 3_600_000
const MINUTE = 60_000
const standin = inject('stripeStandin')
const stripeEnv = { ...env, STRIPE_API_BASE: standin }
// The meter carries money: at $1/M both ways one token is one micro-dollar, so the values below are token counts.
beforeAll(() => seedPrice('cic-demo-llm', 1_000_000, 1_000_000))
/** One page per run: how a run that ran out of time or D1 queries behaves. */
const ONE_PAGE = { sendMs: 0, d1Queries: 900 }

type Receipt = { identifier: string; value: string; isAccepted: boolean; status: number }
type PushRow = { identifier: string; hour_start: number; status: string; attempts: number; last_error: string | null }

const pastHour = (hoursAgo: number) => Math.floor(Date.now() / HOUR) * HOUR - hoursAgo * HOUR
/** The scheduled time of the run right after hour `h` closed. */
const runAfter = (h: number) => h + HOUR + 5 * MINUTE

/** One event through the ledger write (and its rollups), written as if at its own time: old hours are inside the horizon. */
async function recordUsage(tenantId: string, createdAt: number, tokens: number) {
  await writeLedger(
    env.DB,
    [
      {
        requestId: `req_${crypto.randomUUID()}`,
        tenantId,
        keyId: 'key_t',
        model: 'cic-demo-llm',
        nodeId: 'node_t',
        endpoint: 'chat.completions',
        promptTokens: tokens,
        completionTokens: 0,
        outcome: 'completed',
        httpStatus: 200,
        usageSource: 'node',
        latencyMs: 12,
        ttftMs: null,
        createdAt,
      },
    ],
    { now: createdAt },
  )
}

/** A row an earlier run already tried and failed to send. */
async function seedFailedPush(
  tenantId: string,
  customer: string,
  hourStart: number,
  fields: { lastAttemptAt: number; firstAttemptAt?: number; attempts?: number },
) {
  await env.DB.prepare(`INSERT INTO meter_pushes (identifier, tenant_id, event_name, hour_start, seq, stripe_customer_id, value, status,
      attempts, last_error, created_at, last_attempt_at, first_attempt_at) VALUES (?, ?, 'cic_cost_micro_usd', ?, 0, ?, 5, 'failed', ?, '500: down', ?, ?, ?)`)
    .bind(
      `${tenantId}:cic_cost_micro_usd:${hourStart / 1000}`,
      tenantId,
      hourStart,
      customer,
      fields.attempts ?? 1,
      fields.lastAttemptAt,
      fields.lastAttemptAt,
      fields.firstAttemptAt ?? fields.lastAttemptAt,
    )
    .run()
}

async function received(customer: string): Promise<Receipt[]> {
  return (await (await fetch(`${standin}/_standin/meter-events?customer=${customer}`)).json<{ data: Receipt[] }>()).data
}

const pushes = async (tenantId: string) =>
  (
    await env.DB.prepare('SELECT identifier, hour_start, status, attempts, last_error FROM meter_pushes WHERE tenant_id = ? ORDER BY hour_start, seq')
      .bind(tenantId)
      .all<PushRow>()
  ).results

const failFor = (customer: string, status: number, times: number) =>
  fetch(`${standin}/_standin/fail`, { method: 'POST', body: JSON.stringify({ customer, status, times, mode: 'reject' }) })

afterEach(() => vi.restoreAllMocks())

describe('meter push: permanent rejections', () => {
  it('marks a row Stripe refuses with a 400 as rejected, shows it to the admin, and never sends it again', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const h = pastHour(9)
    await recordUsage(tenantId, h + MINUTE, 33)
    await failFor(customer, 400, 1)
    const logs = await logsOf(() => pushMeterUsage(stripeEnv, runAfter(h)))
    expect(await pushes(tenantId)).toEqual([expect.objectContaining({ status: 'rejected', attempts: 1, last_error: expect.stringContaining('400') })])
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', msg: 'meter_push_rejected' }))

    await pushMeterUsage(stripeEnv, runAfter(h) + HOUR)
    await pushMeterUsage(stripeEnv, runAfter(h) + 2 * HOUR)
    expect((await received(customer)).map((r) => r.status)).toEqual([400])
    expect((await pushes(tenantId)).map((p) => [p.status, p.attempts])).toEqual([['rejected', 1]])

    const res = await admin(`/admin/billing/meter-pushes?tenant_id=${tenantId}&status=rejected`)
    expect(await res.json()).toEqual({ object: 'list', data: [expect.objectContaining({ tenant_id: tenantId, status: 'rejected', value: 33 })] })
  })

  it('keeps retrying a row Stripe answered 429 (rate limited) or 401 (our key) for', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const h = pastHour(11)
    await recordUsage(tenantId, h + MINUTE, 7)
    await recordUsage(tenantId, h + HOUR + MINUTE, 8)
    await failFor(customer, 429, 1)
    await failFor(customer, 401, 1)
    await pushMeterUsage(stripeEnv, runAfter(h + HOUR))
    expect((await pushes(tenantId)).map((p) => p.status)).toEqual(['failed', 'failed'])
    await pushMeterUsage(stripeEnv, runAfter(h + HOUR) + HOUR)
    expect((await pushes(tenantId)).map((p) => [p.status, p.attempts])).toEqual([
      ['sent', 2],
      ['sent', 2],
    ])
  })
})

describe('meter push: progress under a backlog', () => {
  it('sends a new hour within two runs even behind a full page of older failing retries', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const newest = pastHour(3)
    // 25 older hours that keep failing (more than one page), last tried an hour ago.
    for (let i = 1; i <= 25; i++) await seedFailedPush(tenantId, customer, newest - i * HOUR, { lastAttemptAt: Date.now() - HOUR })
    await failFor(customer, 503, 1000)
    await recordUsage(tenantId, newest + MINUTE, 42)

    await pushMeterUsage(stripeEnv, runAfter(newest), ONE_PAGE)
    await pushMeterUsage(stripeEnv, runAfter(newest), ONE_PAGE)
    const rows = await pushes(tenantId)
    expect(rows).toHaveLength(26)
    // Every row, the new hour included, was tried: the oldest hours did not take every page.
    expect(rows.every((r) => r.attempts >= 2 || (r.hour_start === newest && r.attempts === 1))).toBe(true)
    expect(rows.find((r) => r.hour_start === newest)).toMatchObject({ attempts: 1, status: 'failed' })
  })

  it('pages through more than 300 due rows in one run', async () => {
    const tenants = await Promise.all(Array.from({ length: 7 }, () => seedCustomerTenant()))
    const last = pastHour(2)
    for (const { tenantId } of tenants) {
      for (let i = 0; i < 45; i++) await recordUsage(tenantId, last - i * HOUR + MINUTE, 1 + i)
    }
    const report = await pushMeterUsage(stripeEnv, runAfter(last))
    expect(report).toMatchObject({ planned: 315 })
    // The report is global: rows other tests of this file left failing are retried in the same run.
    expect('sent' in report && report.sent).toBeGreaterThanOrEqual(315)
    for (const { tenantId, customer } of tenants) {
      expect((await pushes(tenantId)).every((p) => p.status === 'sent')).toBe(true)
      expect(await received(customer)).toHaveLength(45)
    }
  }, 60_000)
})

describe('meter push: Stripe dedupe window', () => {
  it('logs an error when it re-sends a row first sent more than 20 h ago, and not for a recent one', async () => {
    const old = await seedCustomerTenant()
    const recent = await seedCustomerTenant()
    const h = pastHour(30)
    await seedFailedPush(old.tenantId, old.customer, h, { lastAttemptAt: Date.now() - HOUR, firstAttemptAt: Date.now() - 21 * HOUR, attempts: 5 })
    await seedFailedPush(recent.tenantId, recent.customer, h, { lastAttemptAt: Date.now() - HOUR, firstAttemptAt: Date.now() - 2 * HOUR })
    const logs = await logsOf(() => pushMeterUsage(stripeEnv, runAfter(h)))
    const late = logs.filter((l) => l.msg === 'meter_push_resend_after_dedupe_window')
    expect(late).toEqual([
      expect.objectContaining({ level: 'error', identifier: `${old.tenantId}:cic_cost_micro_usd:${h / 1000}`, attempts: 6, age_hours: 21 }),
    ])
    expect((await pushes(old.tenantId)).map((p) => p.status)).toEqual(['sent'])
    expect((await pushes(recent.tenantId)).map((p) => p.status)).toEqual(['sent'])
  })
})
