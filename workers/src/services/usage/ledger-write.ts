// Writes validated usage events into the D1 ledger and folds exactly the newly inserted ones into
// usage_hourly, all in one D1 batch (one transaction). Called by the usage-events queue consumer.
//
// Why this is exactly once: events go in with `ON CONFLICT (request_id) DO NOTHING` and `rolled_up = 0`, so a
// redelivered event inserts nothing. The rollup then adds only rows with `rolled_up = 0` and flips them to 1.
// D1 runs a batch as one transaction and executes one batch at a time, so the rows it sees at 0 are exactly
// the ones this batch inserted; if any statement fails, the whole batch (events, rollup, marks) rolls back.
// Raw SQL rather than drizzle: INSERT ... SELECT FROM json_each and an upsert fed by a GROUP BY are the point.
import type { UsageEvent } from '../../schemas/usage-event.ts'

export const HOUR_MS = 3_600_000

/** Keeps each statement's single bound JSON parameter far below D1's 2 MB value limit (UTF-8 is <= 3 bytes/char). */
const MAX_JSON_CHARS = 500_000

// One bound parameter per statement, whatever the number of events (D1 allows 100 per statement).
// `WHERE true` resolves SQLite's parsing ambiguity between a join's ON and the upsert's ON CONFLICT.
const INSERT_EVENTS = `INSERT INTO usage_events (request_id, tenant_id, key_id, model, node_id, endpoint, prompt_tokens,
  completion_tokens, outcome, http_status, usage_source, latency_ms, ttft_ms, created_at, rolled_up)
SELECT value ->> '$.requestId', value ->> '$.tenantId', value ->> '$.keyId', value ->> '$.model', value ->> '$.nodeId',
  value ->> '$.endpoint', value ->> '$.promptTokens', value ->> '$.completionTokens', value ->> '$.outcome',
  value ->> '$.httpStatus', value ->> '$.usageSource', value ->> '$.latencyMs', value ->> '$.ttftMs', value ->> '$.createdAt', 0
FROM json_each(?1) WHERE true
ON CONFLICT (request_id) DO NOTHING`

const ROLL_UP_NEW_EVENTS = `INSERT INTO usage_hourly (tenant_id, key_id, model, hour_start, prompt_tokens, completion_tokens, requests, errors)
SELECT tenant_id, key_id, model, created_at - created_at % ${HOUR_MS}, sum(prompt_tokens), sum(completion_tokens), count(*),
  sum(outcome <> 'completed')
FROM usage_events WHERE rolled_up = 0
GROUP BY tenant_id, key_id, model, created_at - created_at % ${HOUR_MS}
ON CONFLICT (tenant_id, key_id, model, hour_start) DO UPDATE SET
  prompt_tokens = prompt_tokens + excluded.prompt_tokens,
  completion_tokens = completion_tokens + excluded.completion_tokens,
  requests = requests + excluded.requests,
  errors = errors + excluded.errors`

const MARK_ROLLED_UP = 'UPDATE usage_events SET rolled_up = 1 WHERE rolled_up = 0'

/** Splits the events into JSON arrays of bounded size, one per INSERT statement. */
export function eventChunks(events: readonly UsageEvent[]): string[] {
  const chunks: string[] = []
  let parts: string[] = []
  let size = 2
  for (const event of events) {
    const json = JSON.stringify(event)
    if (parts.length > 0 && size + json.length + 1 > MAX_JSON_CHARS) {
      chunks.push(`[${parts.join(',')}]`)
      parts = []
      size = 2
    }
    parts.push(json)
    size += json.length + 1
  }
  if (parts.length > 0) chunks.push(`[${parts.join(',')}]`)
  return chunks
}

/** Folds every not-yet-rolled-up event into usage_hourly and marks it; must run in the batch that inserted them. */
export function rollupStatements(db: D1Database): D1PreparedStatement[] {
  return [db.prepare(ROLL_UP_NEW_EVENTS), db.prepare(MARK_ROLLED_UP)]
}

const insertStatements = (db: D1Database, events: readonly UsageEvent[]) => eventChunks(events).map((json) => db.prepare(INSERT_EVENTS).bind(json))

export type LedgerWrite = { inserted: number; duplicates: number }

/** Writes the events atomically. Throws when D1 rejects the batch, in which case nothing was written. */
export async function writeLedger(db: D1Database, events: readonly UsageEvent[]): Promise<LedgerWrite> {
  if (events.length === 0) return { inserted: 0, duplicates: 0 }
  const inserts = insertStatements(db, events)
  const results = await db.batch([...inserts, ...rollupStatements(db)])
  const inserted = results.slice(0, inserts.length).reduce((n, r) => n + r.meta.changes, 0)
  return { inserted, duplicates: events.length - inserted }
}
