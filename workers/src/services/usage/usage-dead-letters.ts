// The usage-events dead-letter queue, kept in D1 (called by the Worker's queue() handler for usage-events-dlq and
// by the admin usage routes). Without a consumer a dead-lettered event would expire with the queue's retention
// (4 days) and its tokens would never be billed; here every message becomes a usage_dead_letters row until an
// admin replays it through the ledger's own exactly-once write (writeLedger: ON CONFLICT (created_at, request_id) DO
// NOTHING), so replaying a row twice, or replaying an event that did reach the ledger, counts it once.
import { z } from 'zod'
import { and, asc, eq, sql } from 'drizzle-orm'
import { createDb, type Db } from '../../db/client.ts'
import { usageDeadLetters, type UsageDeadLetterRow } from '../../db/schema.ts'
import { log } from '../../log.ts'
import { eventsOfMessage, parkedUsageEventSchema, usageEventSchema, type UsageEvent } from '../../schemas/usage-event.ts'
import { auditStatement, type AuditEntry } from '../audit/audit-entry.ts'
import { parseStoredBody, storeBatchOrRetry } from '../queue/store-batch.ts'
import { writeLedger } from './ledger-write.ts'
import { DEDUPE_HORIZON_MS } from './usage-retention.ts'

type NewDeadLetter = typeof usageDeadLetters.$inferInsert

const stringField = (value: unknown, key: string): string | null => {
  if (typeof value !== 'object' || value === null || !(key in value)) return null
  const field: unknown = Reflect.get(value, key)
  return typeof field === 'string' && field.length > 0 ? field : null
}

/**
 * The rows a dead-letter message becomes, whichever shape it has (see schemas/usage-event.ts): one per event, so
 * a packed message the runtime dead-lettered whole becomes one row per request.
 */
export function deadLetterRows(msg: Pick<Message<unknown>, 'id' | 'body' | 'attempts'>, now: number): NewDeadLetter[] {
  const parked = parkedUsageEventSchema.safeParse(msg.body)
  const events = parked.success ? [parked.data.body] : eventsOfMessage(msg.body)
  return events.map((event, i) => {
    const requestId = stringField(event, 'requestId')
    const sourceId = parked.success ? parked.data.messageId : events.length > 1 || event !== msg.body ? `${msg.id}:${i}` : msg.id
    return {
      id: requestId ? `req:${requestId}` : `msg:${sourceId}`,
      messageId: msg.id,
      requestId,
      tenantId: stringField(event, 'tenantId'),
      reason: parked.success ? parked.data.reason : 'retries_exhausted',
      error: parked.success ? parked.data.error : null,
      body: JSON.stringify((parked.success ? msg.body : event) ?? null),
      attempts: msg.attempts,
      firstSeenAt: now,
      lastSeenAt: now,
      status: 'pending',
    }
  })
}

/** Consumer of usage-events-dlq: stores every message (a redelivery only updates last seen), then acks the batch. */
export async function storeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = createDb(env.DB)
  const now = Date.now()
  const statements = batch.messages.flatMap((msg) =>
    deadLetterRows(msg, now).map((row) => {
      log.error('usage_dead_letter', { id: row.id, messageId: msg.id, reason: row.reason, attempts: msg.attempts })
      return db
        .insert(usageDeadLetters)
        .values(row)
        .onConflictDoUpdate({
          target: usageDeadLetters.id,
          // max(): deliveries of one message can be handled out of order.
          set: { lastSeenAt: now, attempts: sql`max(${usageDeadLetters.attempts}, ${msg.attempts})` },
        })
    }),
  )
  await storeBatchOrRetry(db, statements, batch, 'usage_dead_letter_store_failed')
}

export type DeadLetterFilter = { status?: UsageDeadLetterRow['status'] | undefined; limit: number }

/** Oldest first: the order in which they should be looked at. */
export function listDeadLetters(db: Db, filter: DeadLetterFilter) {
  return db
    .select()
    .from(usageDeadLetters)
    .where(filter.status ? eq(usageDeadLetters.status, filter.status) : undefined)
    .orderBy(asc(usageDeadLetters.firstSeenAt), asc(usageDeadLetters.id))
    .limit(filter.limit)
    .all()
}

export const deadLetterView = (r: UsageDeadLetterRow) => ({
  object: 'usage_dead_letter',
  id: r.id,
  message_id: r.messageId,
  request_id: r.requestId,
  tenant_id: r.tenantId,
  reason: r.reason,
  error: r.error,
  body: parseStoredBody(r.body),
  attempts: r.attempts,
  first_seen_at: r.firstSeenAt,
  last_seen_at: r.lastSeenAt,
  status: r.status,
  replayed_at: r.replayedAt,
  replay_error: r.replayError,
})

/** The usage event a row carries, checked against today's schema (a deploy may have widened it). */
export function eventOf(row: Pick<UsageDeadLetterRow, 'body'>): { ok: true; event: UsageEvent } | { ok: false; error: string } {
  const body = parseStoredBody(row.body)
  const parked = parkedUsageEventSchema.safeParse(body)
  const parsed = usageEventSchema.safeParse(parked.success ? parked.data.body : body)
  return parsed.success ? { ok: true, event: parsed.data } : { ok: false, error: z.prettifyError(parsed.error) }
}

const BEYOND_HORIZON_ERROR =
  'beyond_dedupe_horizon: older than the dedupe horizon and its tombstone was not kept; not counted (check Stripe and the rollup by hand)'

/**
 * Whether a replay can still be deduplicated: 'fresh' inside the horizon; 'kept' when the row is pending and was
 * stored while the event's tombstone (if the event was ever written) still existed, since the prune keeps the
 * tombstones of pending dead letters (usage-retention.ts); otherwise 'beyond', and the row is not written.
 */
export function replayAge(row: Pick<UsageDeadLetterRow, 'status' | 'firstSeenAt'>, event: UsageEvent, now: number): 'fresh' | 'kept' | 'beyond' {
  if (event.createdAt >= now - DEDUPE_HORIZON_MS) return 'fresh'
  return row.status === 'pending' && event.createdAt >= row.firstSeenAt - DEDUPE_HORIZON_MS ? 'kept' : 'beyond'
}

export type ReplayRequest = { ids?: string[] | undefined; limit: number }
export type ReplayReport = {
  object: 'usage_dead_letter_replay'
  /** Rows whose event went through the ledger write. */
  replayed: number
  /** Of those, the events the ledger did not have yet; the rest were already counted. */
  inserted: number
  duplicates: number
  invalid: { id: string; error: string }[]
  not_found: string[]
}

/**
 * `id IN (ids)` with one bound parameter however many ids: D1 binds at most 100 per statement
 * (workers/src/platform/limits.ts), and the marking UPDATE below also binds its SET values.
 */
const idIn = (ids: readonly string[]) => sql`${usageDeadLetters.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`

/**
 * Replays the named rows (whatever their status: the ledger write makes a second replay a no-op), or else the
 * oldest pending ones. Rows still failing the schema stay pending with the reason in replay_error.
 */
export async function replayDeadLetters(env: Env, request: ReplayRequest, by: Pick<AuditEntry, 'actor' | 'requestId'>): Promise<ReplayReport> {
  const db = createDb(env.DB)
  const rows = request.ids
    ? await db.select().from(usageDeadLetters).where(idIn(request.ids)).all()
    : await listDeadLetters(db, { status: 'pending', limit: request.limit })
  const found = new Set(rows.map((r) => r.id))
  const valid: { id: string; event: UsageEvent }[] = []
  const invalid: { id: string; error: string }[] = []
  const startedAt = Date.now()
  const keptIds = new Set<string>()
  for (const row of rows) {
    const read = eventOf(row)
    const age = read.ok ? replayAge(row, read.event, startedAt) : null
    if (age === 'kept' && read.ok) keptIds.add(read.event.requestId)
    if (read.ok && age !== 'beyond') valid.push({ id: row.id, event: read.event })
    else invalid.push({ id: row.id, error: read.ok ? BEYOND_HORIZON_ERROR : read.error })
  }
  // The ledger first: if marking the rows fails afterwards, replaying them again writes nothing twice.
  const written = await writeLedger(
    env.DB,
    valid.map((v) => v.event),
    { now: startedAt, keptIds },
  )
  const now = Date.now()
  const marks = [
    ...(valid.length > 0
      ? [
          db
            .update(usageDeadLetters)
            .set({ status: 'replayed', replayedAt: now, replayError: null })
            .where(idIn(valid.map((v) => v.id))),
        ]
      : []),
    ...invalid.map((i) =>
      db
        .update(usageDeadLetters)
        .set({ replayError: i.error.slice(0, 1000) })
        .where(eq(usageDeadLetters.id, i.id)),
    ),
  ]
  const report: ReplayReport = {
    object: 'usage_dead_letter_replay',
    replayed: valid.length,
    inserted: written.inserted,
    duplicates: written.duplicates,
    invalid,
    not_found: (request.ids ?? []).filter((id) => !found.has(id)),
  }
  if (rows.length > 0) {
    await db.batch([
      auditStatement(db, { ...by, action: 'usage.dead_letters.replay', target: 'usage_dead_letters', after: { ...report, ids: rows.map((r) => r.id) } }),
      ...marks,
    ])
  }
  log.info('usage_dead_letters_replayed', { replayed: report.replayed, inserted: report.inserted, invalid: invalid.length })
  return report
}

export type DiscardReport = { object: 'usage_dead_letter_discard'; discarded: string[]; not_pending: string[]; not_found: string[] }

/**
 * Marks pending rows discarded: never counted, and their tombstones no longer kept by the prune. For what can never be
 * replayed (beyond the dedupe horizon, a body no schema reads) once a human has settled it by hand: otherwise such a
 * row stays pending forever and keeps CICUsageDeadLettersPending firing. Audited with the rows' ids; an explicit
 * replay by id still works afterwards, within the horizon.
 */
export async function discardDeadLetters(env: Env, ids: string[], by: Pick<AuditEntry, 'actor' | 'requestId'>): Promise<DiscardReport> {
  const db = createDb(env.DB)
  const rows = await db.select({ id: usageDeadLetters.id, status: usageDeadLetters.status }).from(usageDeadLetters).where(idIn(ids)).all()
  const found = new Set(rows.map((r) => r.id))
  const discarded = rows.filter((r) => r.status === 'pending').map((r) => r.id)
  const report: DiscardReport = {
    object: 'usage_dead_letter_discard',
    discarded,
    not_pending: rows.filter((r) => r.status !== 'pending').map((r) => r.id),
    not_found: ids.filter((id) => !found.has(id)),
  }
  if (discarded.length === 0) return report
  await db.batch([
    auditStatement(db, { ...by, action: 'usage.dead_letters.discard', target: 'usage_dead_letters', after: report }),
    db
      .update(usageDeadLetters)
      .set({ status: 'discarded' })
      .where(and(idIn(discarded), eq(usageDeadLetters.status, 'pending'))),
  ])
  log.warn('usage_dead_letters_discarded', { discarded: discarded.length })
  return report
}
