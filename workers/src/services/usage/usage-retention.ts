// Retention of the usage ledger, run by the Worker's prune cron (USAGE_PRUNE_CRON): usage_events rows are the
// dedupe tombstones and are kept for DEDUPE_HORIZON_MS (plus a margin), then deleted in bounded chunks; the
// rollups (usage_hourly, usage_node_hourly), which the reports, the meter push and the reconciliation read, are
// kept ROLLUP_RETENTION_MS. Raw events past the horizon are dropped, not archived: every figure CIC reports or
// bills is in the rollups, and per-request detail lives in the request log (README "Usage ledger").
//
// Why exactly-once survives the pruning: every redelivery (send retry, queue retry, outbox, dead-letter replay)
// carries the event's own createdAt, and ledger-write.ts refuses an event older than now - DEDUPE_HORIZON_MS (it
// goes to usage_dead_letters as beyond_dedupe_horizon, not counted). This prune only deletes rows older than
// now - DEDUPE_HORIZON_MS - PRUNE_MARGIN_MS, so every event the ledger still accepts finds its tombstone if it
// was ever written. A pending dead letter's tombstone is kept until it is replayed, so its replay stays exact
// at any age (usage-dead-letters.ts).

import { D1_MAX_QUERIES_PER_INVOCATION } from '../../platform/limits.ts'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/**
 * How far back a redelivery is still deduplicated. Redeliveries come from: send retries (0.7 s), the queue's
 * retries (5, backoff 5 s doubling: about 2.5 min), the outbox (a Queue outage: minutes to hours) and dead-letter
 * replay (an admin; pending dead letters keep their tombstones, see above). 6 h rides out a long Queue outage
 * and is what one D1 database holds at the sustained rate in the README's capacity figures.
 */
export const DEDUPE_HORIZON_MS = 6 * HOUR_MS
/** Pruning stays this far behind the horizon: clocks of the Worker isolates that write and prune may differ. */
export const PRUNE_MARGIN_MS = 10 * 60_000
/** Rollups are kept 90 days (the usage API's range and Stripe's 35-day meter window fit inside). */
export const ROLLUP_RETENTION_MS = 90 * DAY_MS

/** Every five minutes: a run deletes up to its budget, so the table never holds much beyond the horizon. */
export const USAGE_PRUNE_CRON = '*/5 * * * *'

/**
 * Rows per DELETE. At 1,000 req/s five minutes bring 300,000 rows: 30 statements a run, well inside the 1,000
 * D1 queries an invocation may make (Workers Paid, platform/limits.ts). Each statement binds 2 parameters.
 */
export const PRUNE_CHUNK_ROWS = 10_000
/** Statements one run may spend: half the invocation's D1 queries, a wide margin under the limit. */
const DEFAULT_BUDGET = D1_MAX_QUERIES_PER_INVOCATION / 2

const PRUNE_EVENTS = `DELETE FROM usage_events WHERE (created_at, request_id) IN (
  SELECT created_at, request_id FROM usage_events
  WHERE created_at < ?1
    AND request_id NOT IN (SELECT request_id FROM usage_dead_letters WHERE status = 'pending' AND request_id IS NOT NULL)
  ORDER BY created_at LIMIT ?2)`
const PRUNE_HOURLY = `DELETE FROM usage_hourly WHERE rowid IN (SELECT rowid FROM usage_hourly WHERE hour_start < ?1 LIMIT ?2)`
const PRUNE_NODE_HOURLY = `DELETE FROM usage_node_hourly WHERE rowid IN (SELECT rowid FROM usage_node_hourly WHERE hour_start < ?1 LIMIT ?2)`
/** Meter pushes that are done with (sent or refused) and older than the rollups they were computed from. */
const PRUNE_METER_PUSHES = `DELETE FROM meter_pushes WHERE rowid IN (
  SELECT rowid FROM meter_pushes WHERE hour_start < ?1 AND status IN ('sent', 'rejected') LIMIT ?2)`

export type PruneReport = { events: number; hourly: number; nodeHourly: number; meterPushes: number; statements: number; isComplete: boolean }

/** Deletes what is past retention, oldest first, in chunks, until done or the statement budget is spent. */
export async function pruneUsage(db: D1Database, now: number, budget = DEFAULT_BUDGET, chunkRows = PRUNE_CHUNK_ROWS): Promise<PruneReport> {
  const report: PruneReport = { events: 0, hourly: 0, nodeHourly: 0, meterPushes: 0, statements: 0, isComplete: true }
  const jobs = [
    { field: 'events', sql: PRUNE_EVENTS, before: now - DEDUPE_HORIZON_MS - PRUNE_MARGIN_MS },
    { field: 'hourly', sql: PRUNE_HOURLY, before: now - ROLLUP_RETENTION_MS },
    { field: 'nodeHourly', sql: PRUNE_NODE_HOURLY, before: now - ROLLUP_RETENTION_MS },
    { field: 'meterPushes', sql: PRUNE_METER_PUSHES, before: now - ROLLUP_RETENTION_MS },
  ] as const
  for (const job of jobs) {
    for (;;) {
      if (report.statements >= budget) {
        report.isComplete = false
        return report
      }
      const result = await db.prepare(job.sql).bind(job.before, chunkRows).run()
      report.statements++
      report[job.field] += result.meta.changes
      if (result.meta.changes < chunkRows) break
    }
  }
  return report
}
