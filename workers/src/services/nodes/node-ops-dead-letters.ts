// The node-ops dead-letter queue, kept in D1 (called by the Worker's queue() handler for node-ops-dlq and by the
// admin node dead-letter routes). node-ops is consumed by orchestrator-runner over HTTP pull; a job it gave up on
// (max_retries deliveries) moves to node-ops-dlq. Without this consumer a dead-lettered terminate would expire
// with the queue's retention (4 days) and its A100 would bill every hour, unseen. Here every message becomes a
// node_ops_dead_letters row (logged at error, counted by /metrics) until an admin replays it onto node-ops.
// Replaying is safe because the runner's jobs are idempotent per cluster: a launch runs only while the control
// plane says `launching` and never starts a second cluster, a terminate only while the node is
// draining/terminating/failed, and `sky down` of a gone cluster is a no-op (orchestrator-runner/README.md,
// "Idempotency"; src/jobs/launch.ts, terminate.ts).
import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import { z } from 'zod'
import { createDb, type Db } from '../../db/client.ts'
import { nodeOpsDeadLetters, type NodeOpsDeadLetterRow } from '../../db/schema.ts'
import { ApiError } from '../../errors.ts'
import { log } from '../../log.ts'
import { nodeOpMessageSchema, type NodeOpMessage } from '../../schemas/node-ops.ts'
import { auditStatement, type AuditEntry } from '../audit/audit-entry.ts'
import { parseStoredBody, storeBatchOrRetry } from '../queue/store-batch.ts'

type NewDeadLetter = typeof nodeOpsDeadLetters.$inferInsert
const t = nodeOpsDeadLetters

/**
 * Ids per `IN (...)` list: D1 binds at most 100 parameters per statement (d1/platform/limits.mdx, see
 * reference/platform-facts.md §10); the claim and mark statements bind 3 more of their own.
 */
const IDS_PER_STATEMENT = 90
/** Queue sendBatch: at most 100 messages and 256 KB per call (queues/platform/limits.mdx); a margin for framing. */
const SEND_BATCH_MESSAGES = 100
const SEND_BATCH_BYTES = 200_000
/** A replay holds its rows this long; a replay that died before marking them leaves them pending again after it. */
export const CLAIM_LEASE_MS = 60_000

const stringField = (value: unknown, key: string): string | null => {
  if (typeof value !== 'object' || value === null || !(key in value)) return null
  const field: unknown = Reflect.get(value, key)
  return typeof field === 'string' && field.length > 0 ? field.slice(0, 100) : null
}

function bodyText(body: unknown): string {
  try {
    return JSON.stringify(body ?? null)
  } catch {
    return JSON.stringify(String(body))
  }
}

export const jobId = (m: NodeOpMessage) => `job:${m.op}:${m.cluster_name}:${m.requested_at}`

/** One row per dead-lettered job (or per message, for a body that is not a node-ops job). */
export function deadLetterRow(msg: Pick<Message<unknown>, 'id' | 'body' | 'attempts'>, now: number): NewDeadLetter {
  const parsed = nodeOpMessageSchema.safeParse(msg.body)
  const common = {
    messageId: msg.id,
    body: bodyText(msg.body),
    attempts: msg.attempts,
    firstSeenAt: now,
    lastSeenAt: now,
    status: 'pending' as const,
  }
  if (parsed.success) {
    const job = parsed.data
    return { ...common, id: jobId(job), op: job.op, clusterName: job.cluster_name, nodeId: job.node_id, reason: 'retries_exhausted', error: null }
  }
  return {
    ...common,
    id: `msg:${msg.id}`,
    op: stringField(msg.body, 'op'),
    clusterName: stringField(msg.body, 'cluster_name'),
    nodeId: stringField(msg.body, 'node_id'),
    reason: 'schema',
    error: z.prettifyError(parsed.error).slice(0, 2000),
  }
}

/**
 * Consumer of node-ops-dlq: stores every message, then acks the batch. A redelivery of the same message only
 * updates last seen; the same job dead-lettered again after a replay (a new message id) is pending again.
 */
export async function storeNodeOpDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = createDb(env.DB)
  const now = Date.now()
  const statements = batch.messages.map((msg) => {
    const row = deadLetterRow(msg, now)
    log.error('node_ops_dead_letter', {
      id: row.id,
      messageId: msg.id,
      op: row.op,
      cluster: row.clusterName,
      nodeId: row.nodeId,
      reason: row.reason,
      attempts: msg.attempts,
    })
    const isNewMessage = sql`${t.messageId} <> excluded.message_id`
    return db
      .insert(t)
      .values(row)
      .onConflictDoUpdate({
        target: t.id,
        // SQLite evaluates every SET expression against the row before the update, whatever their order.
        set: {
          lastSeenAt: now,
          messageId: sql`excluded.message_id`,
          // max(): deliveries of one message can be handled out of order.
          attempts: sql`CASE WHEN ${isNewMessage} THEN excluded.attempts ELSE max(${t.attempts}, excluded.attempts) END`,
          status: sql`CASE WHEN ${isNewMessage} THEN 'pending' ELSE ${t.status} END`,
          replayError: sql`CASE WHEN ${t.status} = 'replayed' AND ${isNewMessage} THEN 'dead-lettered again after a replay' ELSE ${t.replayError} END`,
        },
      })
  })
  await storeBatchOrRetry(db, statements, batch, 'node_ops_dead_letter_store_failed')
}

export type DeadLetterFilter = { status?: NodeOpsDeadLetterRow['status'] | undefined; limit: number }

/** Oldest first: the order in which they should be looked at. */
export function listNodeOpDeadLetters(db: Db, filter: DeadLetterFilter) {
  return db
    .select()
    .from(t)
    .where(filter.status ? eq(t.status, filter.status) : undefined)
    .orderBy(asc(t.firstSeenAt), asc(t.id))
    .limit(filter.limit)
    .all()
}

export const nodeOpDeadLetterView = (r: NodeOpsDeadLetterRow) => ({
  object: 'node_ops_dead_letter',
  id: r.id,
  message_id: r.messageId,
  op: r.op,
  cluster_name: r.clusterName,
  node_id: r.nodeId,
  reason: r.reason,
  error: r.error,
  body: parseStoredBody(r.body),
  attempts: r.attempts,
  first_seen_at: r.firstSeenAt,
  last_seen_at: r.lastSeenAt,
  status: r.status,
  replays: r.replays,
  replayed_at: r.replayedAt,
  replay_error: r.replayError,
})

/** The job a row carries, checked against today's schema (a deploy may have changed it). */
export function jobOf(row: Pick<NodeOpsDeadLetterRow, 'body'>): { ok: true; job: NodeOpMessage } | { ok: false; error: string } {
  const parsed = nodeOpMessageSchema.safeParse(parseStoredBody(row.body))
  return parsed.success ? { ok: true, job: parsed.data } : { ok: false, error: z.prettifyError(parsed.error) }
}

export type ReplayRequest = { ids?: string[] | undefined; limit: number }
export type ReplayReport = {
  object: 'node_ops_dead_letter_replay'
  /** Rows whose job was sent onto node-ops by this call. */
  replayed: number
  ids: string[]
  /** Named rows replayed before: nothing is sent for them again. */
  already_replayed: string[]
  /** Named rows an admin discarded: never sent. */
  discarded: string[]
  /** Rows another replay holds right now. */
  busy: string[]
  invalid: { id: string; error: string }[]
  not_found: string[]
}

const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

/** Groups messages into sendBatch calls within the queue's count and size limits. */
function sendGroups(jobs: { id: string; job: NodeOpMessage }[]): { id: string; job: NodeOpMessage }[][] {
  const groups: { id: string; job: NodeOpMessage }[][] = []
  let current: { id: string; job: NodeOpMessage }[] = []
  let bytes = 0
  for (const item of jobs) {
    const size = JSON.stringify(item.job).length
    if (current.length > 0 && (current.length >= SEND_BATCH_MESSAGES || bytes + size > SEND_BATCH_BYTES)) {
      groups.push(current)
      current = []
      bytes = 0
    }
    current.push(item)
    bytes += size
  }
  if (current.length > 0) groups.push(current)
  return groups
}

/** Compare-and-set claim of pending rows no other replay holds; returns the ids this call now holds. */
async function claim(db: Db, ids: string[], claimedAt: number): Promise<Set<string>> {
  const free = sql`(${t.claimedAt} IS NULL OR ${t.claimedAt} < ${claimedAt - CLAIM_LEASE_MS})`
  const statements = chunks(ids, IDS_PER_STATEMENT).map((part) =>
    db
      .update(t)
      .set({ claimedAt })
      .where(and(inArray(t.id, part), eq(t.status, 'pending'), free))
      .returning({ id: t.id }),
  )
  const [first, ...rest] = statements
  if (!first) return new Set()
  const results = await db.batch([first, ...rest])
  return new Set(results.flat().map((r) => r.id))
}

async function send(env: Env, jobs: { id: string; job: NodeOpMessage }[]): Promise<{ sent: string[]; failed: string[]; error: string | null }> {
  const sent: string[] = []
  const failed: string[] = []
  let error: string | null = null
  for (const group of sendGroups(jobs)) {
    if (error) {
      failed.push(...group.map((g) => g.id))
      continue
    }
    try {
      await env.NODE_OPS.sendBatch(group.map((g) => ({ body: g.job, contentType: 'json' as const })))
      sent.push(...group.map((g) => g.id))
    } catch (err) {
      error = String(err)
      failed.push(...group.map((g) => g.id))
    }
  }
  return { sent, failed, error }
}

/**
 * Re-sends the named rows' jobs onto node-ops (or else the oldest pending ones), each once: a row is claimed
 * (compare-and-set, so racing replays cannot both send it) before it is sent, and marked replayed with the audit
 * row in one D1 batch after. A replayed row is not sent again; rows that fail today's schema stay pending with
 * the reason. Only a replay that dies between send and mark lets a job go out twice (after CLAIM_LEASE_MS).
 * At most 100 rows per call.
 */
export async function replayNodeOpDeadLetters(env: Env, request: ReplayRequest, by: Pick<AuditEntry, 'actor' | 'requestId'>): Promise<ReplayReport> {
  const db = createDb(env.DB)
  const rows = request.ids
    ? await db.select().from(t).where(inArray(t.id, request.ids)).all()
    : // A schema reject can never be sent: left out, so that it cannot take the place of a job that can.
      await db
        .select()
        .from(t)
        .where(and(eq(t.status, 'pending'), eq(t.reason, 'retries_exhausted')))
        .orderBy(asc(t.firstSeenAt), asc(t.id))
        .limit(request.limit)
        .all()
  const found = new Set(rows.map((r) => r.id))
  const candidates: { id: string; job: NodeOpMessage }[] = []
  const invalid: { id: string; error: string }[] = []
  const alreadyReplayed: string[] = []
  const discarded: string[] = []
  for (const row of rows) {
    if (row.status !== 'pending') {
      ;(row.status === 'replayed' ? alreadyReplayed : discarded).push(row.id)
      continue
    }
    const read = jobOf(row)
    if (read.ok) candidates.push({ id: row.id, job: read.job })
    else invalid.push({ id: row.id, error: read.error.slice(0, 1000) })
  }

  const claimedAt = Date.now()
  const held = await claim(
    db,
    candidates.map((c) => c.id),
    claimedAt,
  )
  const { sent, failed, error } = await send(
    env,
    candidates.filter((c) => held.has(c.id)),
  )
  const now = Date.now()
  const mine = and(eq(t.claimedAt, claimedAt), eq(t.status, 'pending'))
  const marks = [
    ...chunks(sent, IDS_PER_STATEMENT).map((part) =>
      db
        .update(t)
        .set({ status: 'replayed', replayedAt: now, claimedAt: null, replays: sql`${t.replays} + 1`, replayError: null })
        .where(and(inArray(t.id, part), mine)),
    ),
    ...chunks(failed, IDS_PER_STATEMENT).map((part) =>
      db
        .update(t)
        .set({ claimedAt: null, replayError: `node-ops refused the replay: ${error ?? ''}`.slice(0, 1000) })
        .where(and(inArray(t.id, part), mine)),
    ),
    ...invalid.map((i) => db.update(t).set({ replayError: i.error }).where(eq(t.id, i.id))),
  ]
  const report: ReplayReport = {
    object: 'node_ops_dead_letter_replay',
    replayed: sent.length,
    ids: sent,
    already_replayed: alreadyReplayed,
    discarded,
    busy: candidates.filter((c) => !held.has(c.id)).map((c) => c.id),
    invalid,
    not_found: (request.ids ?? []).filter((id) => !found.has(id)),
  }
  if (rows.length > 0) {
    const audit = auditStatement(db, {
      ...by,
      action: 'nodes.dead_letters.replay',
      target: 'node_ops_dead_letters',
      after: { ...report, send_failed: failed },
    })
    // Sent but not marked (this batch failed): the rows stay pending and may be sent again after the lease; the
    // runner's idempotency makes that second send harmless, while a lost terminate would not be.
    await db.batch([audit, ...marks])
  }
  log.info('node_ops_dead_letters_replayed', { replayed: sent.length, failed: failed.length, invalid: invalid.length })
  if (failed.length > 0) {
    log.error('node_ops_dead_letter_replay_send_failed', { failed: failed.length, error })
    throw new ApiError(
      'upstream_unavailable',
      `node-ops refused ${failed.length} of ${held.size} jobs (${sent.length} sent); they stay pending, repeat the replay.`,
      { code: 'queue_unavailable', headers: { 'retry-after': '5' } },
    )
  }
  return report
}

export type DiscardReport = { object: 'node_ops_dead_letter_discard'; discarded: string[]; not_pending: string[]; not_found: string[] }

/**
 * Closes pending rows an admin has dealt with otherwise (a malformed message, or a job no longer needed: check
 * `sky status` before discarding a terminate). Rows a replay holds are left alone. Audited in the same batch.
 */
export async function discardNodeOpDeadLetters(env: Env, ids: string[], by: Pick<AuditEntry, 'actor' | 'requestId'>): Promise<DiscardReport> {
  const db = createDb(env.DB)
  const now = Date.now()
  const rows = await db.select({ id: t.id, status: t.status, claimedAt: t.claimedAt }).from(t).where(inArray(t.id, ids)).all()
  const isFree = (r: { status: string; claimedAt: number | null }) => r.status === 'pending' && (r.claimedAt === null || r.claimedAt < now - CLAIM_LEASE_MS)
  const discarded = rows.filter(isFree).map((r) => r.id)
  const found = new Set(rows.map((r) => r.id))
  const report: DiscardReport = {
    object: 'node_ops_dead_letter_discard',
    discarded,
    not_pending: rows.filter((r) => !isFree(r)).map((r) => r.id),
    not_found: ids.filter((id) => !found.has(id)),
  }
  if (discarded.length === 0) return report
  const free = sql`(${t.claimedAt} IS NULL OR ${t.claimedAt} < ${now - CLAIM_LEASE_MS})`
  await db.batch([
    auditStatement(db, { ...by, action: 'nodes.dead_letters.discard', target: 'node_ops_dead_letters', after: report }),
    ...chunks(discarded, IDS_PER_STATEMENT).map((part) =>
      db
        .update(t)
        .set({ status: 'discarded' })
        .where(and(inArray(t.id, part), eq(t.status, 'pending'), free)),
    ),
  ])
  log.warn('node_ops_dead_letters_discarded', { discarded: discarded.length })
  return report
}
