// Sends closed usage hours to Stripe Billing Meters, in money: one event per tenant-hour whose value is its cost
// in micro-dollars (the meter's price: one micro-dollar per unit). Called by the Worker's hourly scheduled() handler.
//
// Exactly once, by construction: (1) each event is written to meter_pushes as `pending`, with its value and
// deterministic identifier frozen, BEFORE it is sent; (2) a run claims rows (attempts + 1, with a lease, in one
// conditional UPDATE) before sending them, so overlapping runs never send one row twice; (3) a row that was not
// confirmed (failed, or the run died before recording the answer) is re-sent verbatim later under the same
// identifier, which Stripe deduplicates (rolling >= 24 h window; runs are hourly). Usage that arrives after an
// hour was pushed becomes a correction event (next seq) carrying only the difference. A row Stripe refuses for
// good (a 4xx that is not about our key, a conflict or the rate) is `rejected`: shown to the admin, never resent.
// Totals are read from usage_hourly, written in the same D1 batch as the events (so the sums are the same), and
// kept 90 days while usage_events is pruned after the dedupe horizon (services/usage/usage-retention.ts).
import { and, asc, eq, gte, inArray, isNull, lt, or, sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type Stripe from 'stripe'
import { createDb, type Db } from '../../db/client.ts'
import { meterPushes, type MeterPushRow } from '../../db/schema.ts'
import { log } from '../../log.ts'
import { meterConfig, stripeClient } from './billing-config.ts'
import { ROW_COST_MICRO_USD } from '../usage/usage-cost.ts'
import { closedHours, HOUR_MS, planMeterPushes, type HourPushed, type HourTotal, type PushIntent } from './meter-plan.ts'

export const METER_CRON = '5 * * * *'
/** Usage reaches D1 through a queue (seconds, or a minute with retries): an hour is pushed 5 min after it ends. */
export const GRACE_MS = 5 * 60_000
/** Closed hours rescanned each run for late usage (corrections). */
export const LOOKBACK_HOURS = 48
/** Stripe accepts meter event timestamps from the past 35 days; older unsent rows stay visible as failed. */
const STRIPE_MAX_AGE_MS = 35 * 24 * HOUR_MS - HOUR_MS
/**
 * Rows claimed together (one bound parameter each; D1 allows 100) and then sent one by one: at the client's 20 s
 * timeout the last of a page still goes out well inside its claim lease.
 */
const PAGE_SIZE = 20
/** How long a claimed row is left to its sender before another run may take it. */
const CLAIM_LEASE_MS = 10 * 60_000
/** Stripe deduplicates an identifier for at least 24 h: a re-send after this is logged as an error. */
export const DEDUPE_WARN_AFTER_MS = 20 * HOUR_MS
const INSERT_ROWS_PER_STATEMENT = 9 // 11 columns per row; D1 binds at most 100 parameters per statement (platform/limits.ts)

/**
 * What one run may spend. A run pages through every due row until one of these runs out (the rest waits for the
 * next hour, least recently tried first). Wall time: an hourly cron may run 15 min. D1: 1000 queries per invocation
 * (platform/limits.ts), each statement of a batch counted as one to be safe. Beyond that, fan the sends out through
 * a Queue. Recording new rows may take a third of the queries: after a long cron outage (or with many tenants) the
 * oldest hours are recorded first and the next runs record the rest, instead of one batch past the limit that would
 * fail every hour.
 */
export type PushBudget = { sendMs: number; d1Queries: number }
const DEFAULT_BUDGET: PushBudget = { sendMs: 10 * 60_000, d1Queries: 900 }

/** `planned`: rows recorded by this run; `deferred`: due tenant-hours left for the next runs (newest hours). */
export type PushReport = { planned: number; deferred: number; sent: number; failed: number; rejected: number; notClaimed: number; pages: number }

export async function pushMeterUsage(env: Env, now: number, budget: PushBudget = DEFAULT_BUDGET): Promise<PushReport | { skipped: 'not_configured' }> {
  const config = meterConfig(env)
  if (!config.ok) {
    log.error('meter_push_not_configured', { error: config.error }) // billing is off until the secrets are set
    return { skipped: 'not_configured' }
  }
  const { eventName } = config.config
  const db = createDb(env.DB)
  const startedAt = Date.now()
  const maxRows = Math.floor(budget.d1Queries / 3) * INSERT_ROWS_PER_STATEMENT
  const planned = await planAndRecord(db, eventName, now, maxRows)
  let queries = planned.queries
  const report: PushReport = { planned: planned.recorded, deferred: planned.deferred, sent: 0, failed: 0, rejected: 0, notClaimed: 0, pages: 0 }
  const stripe = stripeClient(config.config)
  // At least one page per run; then more while the budget lasts (a page: select, claim, one result write per row).
  while (report.pages === 0 || (Date.now() - startedAt < budget.sendMs && queries + PAGE_SIZE + 2 <= budget.d1Queries)) {
    const page = await duePage(db, eventName, now, startedAt)
    if (page.length === 0) break
    report.pages++
    const sent = await sendPage(db, stripe, page)
    queries += 2 + sent.queries
    report.sent += sent.sent
    report.failed += sent.failed
    report.rejected += sent.rejected
    report.notClaimed += sent.notClaimed
  }
  log.info('meter_push', { eventName, ...report })
  return report
}

/** Records at most `maxRows` of the due events, oldest hours first; the rest are planned again by the next run. */
async function planAndRecord(db: Db, eventName: string, now: number, maxRows: number): Promise<{ recorded: number; deferred: number; queries: number }> {
  const { from, to } = closedHours(now, GRACE_MS, LOOKBACK_HOURS)
  // The meter's value is money: the tenant-hour's cost in micro-dollars, summed from the same rounded rows as
  // every usage view. An hour already pushed under another event name (the token meter before issue 16) was
  // billed by that meter: it is not sent again under this one (no double billing at the cut-over).
  const totals = await db.all<HourTotal>(sql`
    SELECT u.tenant_id AS tenantId, t.stripe_customer_id AS stripeCustomerId, u.hour_start AS hourStart,
           sum(${sql.raw(ROW_COST_MICRO_USD)}) AS microUsd
    FROM tenants t JOIN usage_hourly u ON u.tenant_id = t.id
    WHERE t.stripe_customer_id IS NOT NULL AND u.hour_start >= ${from} AND u.hour_start < ${to}
      AND NOT EXISTS (SELECT 1 FROM meter_pushes o WHERE o.tenant_id = u.tenant_id AND o.hour_start = u.hour_start AND o.event_name <> ${eventName})
    GROUP BY u.tenant_id, u.hour_start`)
  const pushed = await db.all<HourPushed>(sql`
    SELECT tenant_id AS tenantId, hour_start AS hourStart, sum(value) AS pushed, max(seq) AS maxSeq
    FROM meter_pushes WHERE event_name = ${eventName} AND hour_start >= ${from} AND hour_start < ${to}
    GROUP BY tenant_id, hour_start`)
  const { intents, overPushed } = planMeterPushes(totals, pushed, eventName)
  if (overPushed.length > 0) log.error('meter_push_over_pushed', { hours: overPushed })
  // createdAt is wall time (not the cron's scheduled time): it orders never-attempted rows among retries.
  const createdAt = Date.now()
  const rows = [...intents]
    .sort(oldestFirst)
    .slice(0, maxRows)
    .map((i) => ({ ...i, eventName, status: 'pending' as const, attempts: 0, createdAt }))
  const statements = []
  for (let i = 0; i < rows.length; i += INSERT_ROWS_PER_STATEMENT) {
    // A concurrent run that planned the same identifier already wrote it: keep the first, frozen row.
    statements.push(
      db
        .insert(meterPushes)
        .values(rows.slice(i, i + INSERT_ROWS_PER_STATEMENT))
        .onConflictDoNothing(),
    )
  }
  const [first, ...rest] = statements
  if (first) await db.batch([first, ...rest])
  return { recorded: rows.length, deferred: intents.length - rows.length, queries: 2 + statements.length }
}

const oldestFirst = (a: PushIntent, b: PushIntent) =>
  a.hourStart - b.hourStart || (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0) || a.seq - b.seq

/** A failed row is free to retry; a pending one only once its lease ran out (its sender died mid-flight). */
const isFree = (wall: number) =>
  or(
    eq(meterPushes.status, 'failed'),
    and(eq(meterPushes.status, 'pending'), or(isNull(meterPushes.lastAttemptAt), lt(meterPushes.lastAttemptAt, wall - CLAIM_LEASE_MS))),
  )

/**
 * The next due rows, least recently touched first (last attempt, or creation for a new row): a backlog of retries
 * and new hours take turns instead of the oldest hours going first forever. Rows this run already attempted are
 * past `startedAt` and drop out, so each page is new rows.
 */
function duePage(db: Db, eventName: string, now: number, startedAt: number): Promise<MeterPushRow[]> {
  return db
    .select()
    .from(meterPushes)
    .where(
      and(
        eq(meterPushes.eventName, eventName),
        gte(meterPushes.hourStart, now - STRIPE_MAX_AGE_MS),
        isFree(Date.now()),
        or(isNull(meterPushes.lastAttemptAt), lt(meterPushes.lastAttemptAt, startedAt)),
      ),
    )
    .orderBy(sql`coalesce(${meterPushes.lastAttemptAt}, ${meterPushes.createdAt})`, asc(meterPushes.hourStart), asc(meterPushes.seq))
    .limit(PAGE_SIZE)
    .all()
}

type PageResult = { sent: number; failed: number; rejected: number; notClaimed: number; queries: number }

async function sendPage(db: Db, stripe: Stripe, page: MeterPushRow[]): Promise<PageResult> {
  const wall = Date.now()
  // One conditional UPDATE claims the page; rows another run took meanwhile are not returned.
  const claimed = await db
    .update(meterPushes)
    .set({
      status: 'pending',
      attempts: sql`${meterPushes.attempts} + 1`,
      lastAttemptAt: wall,
      // Rows attempted before first_attempt_at existed: their creation is when they were first sent.
      firstAttemptAt: sql`coalesce(${meterPushes.firstAttemptAt}, CASE WHEN ${meterPushes.attempts} > 0 THEN ${meterPushes.createdAt} END, ${wall})`,
    })
    .where(
      and(
        inArray(
          meterPushes.identifier,
          page.map((r) => r.identifier),
        ),
        isFree(wall),
      ),
    )
    .returning()
  const order = new Map(page.map((r, i) => [r.identifier, i]))
  claimed.sort((a, b) => (order.get(a.identifier) ?? 0) - (order.get(b.identifier) ?? 0))
  const result: PageResult = { sent: 0, failed: 0, rejected: 0, notClaimed: page.length - claimed.length, queries: 0 }
  const sentIds: string[] = []
  const writes: BatchItem<'sqlite'>[] = []
  for (const row of claimed) {
    warnIfPastDedupeWindow(row, wall)
    const outcome = await sendOne(stripe, row)
    if (outcome.ok) {
      sentIds.push(row.identifier)
      result.sent++
      continue
    }
    const status = outcome.isPermanent ? 'rejected' : 'failed'
    result[status]++
    const logFields = { identifier: row.identifier, attempts: row.attempts, error: outcome.error }
    if (outcome.isPermanent) log.error('meter_push_rejected', logFields)
    else log.warn('meter_push_failed', logFields)
    writes.push(db.update(meterPushes).set({ status, lastError: outcome.error }).where(eq(meterPushes.identifier, row.identifier)))
  }
  if (sentIds.length > 0) {
    writes.push(db.update(meterPushes).set({ status: 'sent', sentAt: Date.now(), lastError: null }).where(inArray(meterPushes.identifier, sentIds)))
  }
  const [first, ...rest] = writes
  if (first) await db.batch([first, ...rest])
  result.queries = writes.length
  return result
}

function warnIfPastDedupeWindow(row: MeterPushRow, wall: number): void {
  if (row.attempts <= 1 || row.firstAttemptAt === null || wall - row.firstAttemptAt < DEDUPE_WARN_AFTER_MS) return
  // Past Stripe's 24 h the identifier may no longer be deduplicated: if an earlier attempt was counted, this one
  // could be counted again. Check the customer's meter in Stripe before trusting the total.
  log.error('meter_push_resend_after_dedupe_window', {
    identifier: row.identifier,
    attempts: row.attempts,
    first_attempt_at: row.firstAttemptAt,
    age_hours: Math.floor((wall - row.firstAttemptAt) / HOUR_MS),
  })
}

type SendOutcome = { ok: true } | { ok: false; isPermanent: boolean; error: string }

async function sendOne(stripe: Stripe, row: MeterPushRow): Promise<SendOutcome> {
  try {
    await stripe.billing.meterEvents.create({
      event_name: row.eventName,
      payload: { stripe_customer_id: row.stripeCustomerId, value: String(row.value) }, // Stripe wants strings
      identifier: row.identifier,
      timestamp: Math.floor(row.hourStart / 1000),
    })
    return { ok: true }
  } catch (err) {
    // Stripe already holds this identifier: the event was counted when it was first accepted (a lost answer).
    if (isDuplicateIdentifier(err, row.identifier)) return { ok: true }
    return { ok: false, isPermanent: isPermanentRejection(err), error: describeError(err) }
  }
}

/**
 * Stripe's answer to a meter event whose identifier it already holds (uniqueness over at least 24 h): 400
 * invalid_request_error "An event already exists with identifier <id>." (the text observed in
 * langfuse/langfuse PR #16292; Stripe's reference documents the uniqueness, not the message). Exactly that
 * answer, naming this identifier, counts as sent; any other 400 stays a rejection.
 */
export function isDuplicateIdentifier(err: unknown, identifier: string): boolean {
  if (!err || typeof err !== 'object' || !('statusCode' in err) || err.statusCode !== 400 || !('message' in err)) return false
  return typeof err.message === 'string' && err.message.startsWith(`An event already exists with identifier ${identifier}`)
}

/**
 * Stripe refused this event itself (400 bad parameter, 404 unknown customer or meter, ...): sending it again
 * cannot help. Not 429 (rate), 408/409 (retryable per Stripe's and OpenAI's clients), 401/403 (our key or its
 * permissions are wrong: every row would be rejected, and they must go out once the key is fixed).
 */
export function isPermanentRejection(err: unknown): boolean {
  const status = err && typeof err === 'object' && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : null
  return status !== null && status >= 400 && status < 500 && ![401, 403, 408, 409, 429].includes(status)
}

function describeError(err: unknown): string {
  if (err && typeof err === 'object' && 'statusCode' in err && 'message' in err) {
    return `${String(err.statusCode ?? 'network')}: ${String(err.message)}`.slice(0, 500)
  }
  return String(err).slice(0, 500)
}

/** Rows for the admin view, newest hours first. */
export function listMeterPushes(db: Db, filter: { tenantId?: string | undefined; status?: MeterPushRow['status'] | undefined; limit: number }) {
  return db
    .select()
    .from(meterPushes)
    .where(and(filter.tenantId ? eq(meterPushes.tenantId, filter.tenantId) : undefined, filter.status ? eq(meterPushes.status, filter.status) : undefined))
    .orderBy(sql`${meterPushes.hourStart} DESC`, asc(meterPushes.seq))
    .limit(filter.limit)
    .all()
}

export const meterPushView = (r: MeterPushRow) => ({
  object: 'meter_push',
  identifier: r.identifier,
  tenant_id: r.tenantId,
  event_name: r.eventName,
  hour_start: r.hourStart,
  seq: r.seq,
  stripe_customer_id: r.stripeCustomerId,
  value: r.value,
  status: r.status,
  attempts: r.attempts,
  last_error: r.lastError,
  created_at: r.createdAt,
  last_attempt_at: r.lastAttemptAt,
  sent_at: r.sentAt,
  invoice_id: r.invoiceId,
})
