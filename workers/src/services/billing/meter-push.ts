// Sends closed usage hours to Stripe Billing Meters. Called by the Worker's hourly scheduled() handler.
//
// Exactly once, by construction: (1) each event is written to meter_pushes as `pending`, with its value and
// deterministic identifier frozen, BEFORE it is sent; (2) a run claims a row (attempts = attempts + 1, compare-
// and-swap, with a lease) before sending it, so overlapping runs never send one row twice; (3) a row that was not
// confirmed (failed, or the run died before recording the answer) is re-sent verbatim later under the same
// identifier, which Stripe deduplicates (rolling >= 24 h window; runs are hourly). Usage that arrives after an
// hour was pushed becomes a correction event (next seq) carrying only the difference.
// Aggregates usage_events directly; once usage_hourly (issue #5) is merged it can read that rollup instead.
import { and, asc, eq, gte, isNull, lt, ne, or, sql } from 'drizzle-orm'
import type Stripe from 'stripe'
import { createDb, type Db } from '../../db/client.ts'
import { meterPushes, type MeterPushRow } from '../../db/schema.ts'
import { log } from '../../log.ts'
import { meterConfig, stripeClient } from './billing-config.ts'
import { closedHours, HOUR_MS, planMeterPushes, type HourPushed, type HourTotal, type PushIntent } from './meter-plan.ts'

export const METER_CRON = '5 * * * *'
/** Usage reaches D1 through a queue (seconds, or a minute with retries): an hour is pushed 5 min after it ends. */
export const GRACE_MS = 5 * 60_000
/** Closed hours rescanned each run for late usage (corrections). */
export const LOOKBACK_HOURS = 48
/** Stripe accepts meter event timestamps from the past 35 days; older unsent rows stay visible as failed. */
const STRIPE_MAX_AGE_MS = 35 * 24 * HOUR_MS - HOUR_MS
/**
 * Two D1 queries per send (claim, result) must stay under D1's 1000 queries per invocation. Rows beyond this wait
 * for the next run, so one cron run serves about this many billed tenant-hours per hour; beyond that, fan the
 * sends out through a Queue.
 */
const MAX_SENDS_PER_RUN = 300
/** How long a claimed row is left to its sender (one Stripe call, 20 s timeout) before another run may take it. */
const CLAIM_LEASE_MS = 10 * 60_000
const INSERT_ROWS_PER_STATEMENT = 9 // 11 columns per row; D1 binds at most 100 parameters per statement

export type PushReport = { planned: number; sent: number; failed: number; notClaimed: number }

export async function pushMeterUsage(env: Env, now: number): Promise<PushReport | { skipped: 'not_configured' }> {
  const config = meterConfig(env)
  if (!config.ok) {
    log.error('meter_push_not_configured', { error: config.error }) // billing is off until the secrets are set
    return { skipped: 'not_configured' }
  }
  const { eventName } = config.config
  const db = createDb(env.DB)
  const intents = await planAndRecord(db, eventName, now)
  const due = await db.select().from(meterPushes)
    .where(and(eq(meterPushes.eventName, eventName), ne(meterPushes.status, 'sent'), gte(meterPushes.hourStart, now - STRIPE_MAX_AGE_MS)))
    .orderBy(asc(meterPushes.hourStart), asc(meterPushes.seq)).limit(MAX_SENDS_PER_RUN).all()
  const report: PushReport = { planned: intents.length, sent: 0, failed: 0, notClaimed: 0 }
  const stripe = stripeClient(config.config)
  for (const row of due) {
    const result = await sendOne(db, stripe, row)
    if (result === 'sent') report.sent++
    else if (result === 'failed') report.failed++
    else report.notClaimed++
  }
  log.info('meter_push', { eventName, due: due.length, ...report })
  return report
}

async function planAndRecord(db: Db, eventName: string, now: number): Promise<PushIntent[]> {
  const { from, to } = closedHours(now, GRACE_MS, LOOKBACK_HOURS)
  // A literal, not a bound parameter: D1 binds JS numbers as REAL, which would turn this into float division.
  const hourLiteral = sql.raw(String(HOUR_MS))
  const totals = await db.all<HourTotal>(sql`
    SELECT u.tenant_id AS tenantId, t.stripe_customer_id AS stripeCustomerId, (u.created_at / ${hourLiteral}) * ${hourLiteral} AS hourStart,
           sum(u.prompt_tokens + u.completion_tokens) AS tokens
    FROM tenants t JOIN usage_events u ON u.tenant_id = t.id
    WHERE t.stripe_customer_id IS NOT NULL AND u.created_at >= ${from} AND u.created_at < ${to}
    GROUP BY u.tenant_id, hourStart`)
  const pushed = await db.all<HourPushed>(sql`
    SELECT tenant_id AS tenantId, hour_start AS hourStart, sum(value) AS pushed, max(seq) AS maxSeq
    FROM meter_pushes WHERE event_name = ${eventName} AND hour_start >= ${from} AND hour_start < ${to}
    GROUP BY tenant_id, hour_start`)
  const { intents, overPushed } = planMeterPushes(totals, pushed, eventName)
  if (overPushed.length > 0) log.error('meter_push_over_pushed', { hours: overPushed })
  const rows = intents.map((i) => ({ ...i, eventName, status: 'pending' as const, attempts: 0, createdAt: now }))
  const statements = []
  for (let i = 0; i < rows.length; i += INSERT_ROWS_PER_STATEMENT) {
    // A concurrent run that planned the same identifier already wrote it: keep the first, frozen row.
    statements.push(db.insert(meterPushes).values(rows.slice(i, i + INSERT_ROWS_PER_STATEMENT)).onConflictDoNothing())
  }
  const [first, ...rest] = statements
  if (first) await db.batch([first, ...rest])
  return intents
}

async function sendOne(db: Db, stripe: Stripe, row: MeterPushRow): Promise<'sent' | 'failed' | 'not_claimed'> {
  // A failed row is free to retry; a pending one only once its lease ran out (its sender died mid-flight).
  const wall = Date.now()
  const isFree = or(eq(meterPushes.status, 'failed'), and(eq(meterPushes.status, 'pending'),
    or(isNull(meterPushes.lastAttemptAt), lt(meterPushes.lastAttemptAt, wall - CLAIM_LEASE_MS))))
  const claim = await db.update(meterPushes).set({ status: 'pending', attempts: row.attempts + 1, lastAttemptAt: wall })
    .where(and(eq(meterPushes.identifier, row.identifier), eq(meterPushes.attempts, row.attempts), isFree)).run()
  if (claim.meta.changes !== 1) return 'not_claimed' // another run has it
  try {
    await stripe.billing.meterEvents.create({
      event_name: row.eventName,
      payload: { stripe_customer_id: row.stripeCustomerId, value: String(row.value) }, // Stripe wants strings
      identifier: row.identifier,
      timestamp: Math.floor(row.hourStart / 1000),
    })
  } catch (err) {
    const lastError = describeError(err)
    log.warn('meter_push_failed', { identifier: row.identifier, attempts: row.attempts + 1, error: lastError })
    await db.update(meterPushes).set({ status: 'failed', lastError }).where(eq(meterPushes.identifier, row.identifier))
    return 'failed'
  }
  await db.update(meterPushes).set({ status: 'sent', sentAt: Date.now(), lastError: null }).where(eq(meterPushes.identifier, row.identifier))
  return 'sent'
}

function describeError(err: unknown): string {
  if (err && typeof err === 'object' && 'statusCode' in err && 'message' in err) {
    return `${String(err.statusCode ?? 'network')}: ${String(err.message)}`.slice(0, 500)
  }
  return String(err).slice(0, 500)
}

/** Rows for the admin view, newest hours first. */
export function listMeterPushes(db: Db, filter: { tenantId?: string | undefined; status?: MeterPushRow['status'] | undefined; limit: number }) {
  return db.select().from(meterPushes)
    .where(and(
      filter.tenantId ? eq(meterPushes.tenantId, filter.tenantId) : undefined,
      filter.status ? eq(meterPushes.status, filter.status) : undefined,
    ))
    .orderBy(sql`${meterPushes.hourStart} DESC`, asc(meterPushes.seq)).limit(filter.limit).all()
}

export const meterPushView = (r: MeterPushRow) => ({
  object: 'meter_push', identifier: r.identifier, tenant_id: r.tenantId, event_name: r.eventName, hour_start: r.hourStart,
  seq: r.seq, stripe_customer_id: r.stripeCustomerId, value: r.value, status: r.status, attempts: r.attempts,
  last_error: r.lastError, created_at: r.createdAt, last_attempt_at: r.lastAttemptAt, sent_at: r.sentAt, invoice_id: r.invoiceId,
})
