// Writes validated usage events into the D1 ledger and folds exactly the newly inserted ones into the rollups
// (usage_hourly per tenant/key/model with their exact cost, usage_node_hourly per node), all in one D1 batch (one transaction). Called
// by the usage-events queue consumer and the dead-letter replay.
//
// Why this is exactly once: events go in with `ON CONFLICT (created_at, request_id) DO NOTHING` stamped with a
// fresh write id, so a redelivered event inserts nothing and keeps its old write id. Each rollup then adds only
// the rows carrying this statement's write id. If any statement fails, the whole batch rolls back.
// The tombstones that make this work live for the dedupe horizon (usage-retention.ts): an event older than it
// (by its createdAt) is not written but returned in `beyondHorizon`, because its tombstone may be gone.
// Raw SQL rather than drizzle: INSERT ... SELECT FROM json_each and an upsert fed by a GROUP BY are the point.
import type { UsageEvent } from '../../schemas/usage-event.ts'
import { DEDUPE_HORIZON_MS } from './usage-retention.ts'

export const HOUR_MS = 3_600_000

/** Keeps each statement's bound JSON parameter far below D1's 2 MB value limit (UTF-8 is <= 3 bytes/char). */
const MAX_JSON_CHARS = 500_000

// Two bound parameters per statement, whatever the number of events (D1 allows 100 per statement).
// `WHERE true` resolves SQLite's parsing ambiguity between a join's ON and the upsert's ON CONFLICT.
// cached_prompt_tokens is clamped here, the last step before money: to [0, prompt_tokens] (a node reporting more
// cached than prompt tokens, or a prompt cut by a bound after the node's report, cannot make cached tokens exceed
// the prompt they are part of); absent (events from before 0012, gateway counts) it is 0.
const INSERT_EVENTS = `INSERT INTO usage_events (request_id, tenant_id, key_id, model, node_id, endpoint, prompt_tokens,
  completion_tokens, cached_prompt_tokens, outcome, http_status, usage_source, latency_ms, ttft_ms, created_at, write_id)
SELECT value ->> '$.requestId', value ->> '$.tenantId', value ->> '$.keyId', value ->> '$.model', value ->> '$.nodeId',
  value ->> '$.endpoint', value ->> '$.promptTokens', value ->> '$.completionTokens',
  max(0, min(coalesce(value ->> '$.cachedPromptTokens', 0), value ->> '$.promptTokens')), value ->> '$.outcome',
  value ->> '$.httpStatus', value ->> '$.usageSource', value ->> '$.latencyMs', value ->> '$.ttftMs', value ->> '$.createdAt', ?2
FROM json_each(?1) WHERE true
ON CONFLICT (created_at, request_id) DO NOTHING`

/** The rows this write inserted: found through the key (events are unique in a chunk), filtered by write id. */
const INSERTED = `FROM json_each(?1) j JOIN usage_events e
  ON e.created_at = j.value ->> '$.createdAt' AND e.request_id = j.value ->> '$.requestId'
WHERE e.write_id = ?2`

/**
 * The price of a row's model in force at the request's start (the event's startedAt, else its createdAt): the
 * latest model_prices version with effective_from ≤ that time (price-book.ts's rule); 0 without one. Versions are
 * never written in the past, so the price an event gets cannot change after it started.
 */
const priceOf = (price: string) => `coalesce((SELECT ${price} FROM model_prices p
    WHERE p.model = e.model AND p.effective_from <= coalesce(j.value ->> '$.startedAt', e.created_at)
    ORDER BY p.effective_from DESC LIMIT 1), 0)`
/** The cached-input price of the same version: its own when set, else the version's input price (cached tokens cost input). */
const CACHED_INPUT_PRICE = priceOf('coalesce(p.cached_input_micro_usd_per_mtok, p.input_micro_usd_per_mtok)')
/** A row's cached prompt tokens at the cached-input price, pico-dollars. */
const CACHED_COST = `e.cached_prompt_tokens * ${CACHED_INPUT_PRICE}`

// Cost is tokens × micro-dollars per million tokens = pico-dollars, summed exactly in SQLite's 64-bit integers
// (prices ≤ $1,000/M: a row overflows past $9.2 M per tenant, key, model, hour and direction). It is rounded to
// the micro-dollar only when read, once per row and direction (usage-cost.ts). The prompt direction is
// (prompt − cached) × input + cached × cached input; cached_prompt_cost_pico_usd repeats the second term (a part
// of the prompt direction, shown on its own, never added again).
const ROLL_UP_HOURLY = `INSERT INTO usage_hourly (tenant_id, key_id, model, hour_start, prompt_tokens, completion_tokens, requests, errors,
  prompt_cost_pico_usd, completion_cost_pico_usd, cached_prompt_tokens, cached_prompt_cost_pico_usd)
SELECT e.tenant_id, e.key_id, e.model, e.created_at - e.created_at % ${HOUR_MS}, sum(e.prompt_tokens), sum(e.completion_tokens), count(*),
  sum(e.outcome <> 'completed'),
  sum((e.prompt_tokens - e.cached_prompt_tokens) * ${priceOf('p.input_micro_usd_per_mtok')} + ${CACHED_COST}),
  sum(e.completion_tokens * ${priceOf('p.output_micro_usd_per_mtok')}), sum(e.cached_prompt_tokens), sum(${CACHED_COST})
${INSERTED}
GROUP BY 1, 2, 3, 4
ON CONFLICT (tenant_id, key_id, model, hour_start) DO UPDATE SET
  prompt_tokens = prompt_tokens + excluded.prompt_tokens,
  completion_tokens = completion_tokens + excluded.completion_tokens,
  requests = requests + excluded.requests,
  errors = errors + excluded.errors,
  prompt_cost_pico_usd = prompt_cost_pico_usd + excluded.prompt_cost_pico_usd,
  completion_cost_pico_usd = completion_cost_pico_usd + excluded.completion_cost_pico_usd,
  cached_prompt_tokens = cached_prompt_tokens + excluded.cached_prompt_tokens,
  cached_prompt_cost_pico_usd = cached_prompt_cost_pico_usd + excluded.cached_prompt_cost_pico_usd`

const ROLL_UP_NODE_HOURLY = `INSERT INTO usage_node_hourly (node_id, hour_start, prompt_tokens, completion_tokens, requests)
SELECT e.node_id, e.created_at - e.created_at % ${HOUR_MS}, sum(e.prompt_tokens), sum(e.completion_tokens), count(*)
${INSERTED}
GROUP BY 1, 2
ON CONFLICT (node_id, hour_start) DO UPDATE SET
  prompt_tokens = prompt_tokens + excluded.prompt_tokens,
  completion_tokens = completion_tokens + excluded.completion_tokens,
  requests = requests + excluded.requests`

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

/** One copy of each event: a batch can carry the same event twice (a send retried after it got through). */
function uniqueEvents(events: readonly UsageEvent[]): UsageEvent[] {
  const seen = new Set<string>()
  return events.filter((e) => {
    const key = `${e.createdAt}:${e.requestId}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

export type LedgerWrite = { inserted: number; duplicates: number; beyondHorizon: UsageEvent[] }
export type LedgerWriteOptions = {
  /** Wall time of the write (ms); the horizon is measured back from it. */
  now?: number
  /**
   * Request ids whose tombstones are known to be kept past the horizon (pending dead letters, see
   * usage-retention.ts): written whatever their age.
   */
  keptIds?: ReadonlySet<string>
}

/** Writes the events atomically. Throws when D1 rejects the batch, in which case nothing was written. */
export async function writeLedger(db: D1Database, events: readonly UsageEvent[], options: LedgerWriteOptions = {}): Promise<LedgerWrite> {
  const cutoff = (options.now ?? Date.now()) - DEDUPE_HORIZON_MS
  const accepted: UsageEvent[] = []
  const beyondHorizon: UsageEvent[] = []
  for (const e of events) (e.createdAt >= cutoff || options.keptIds?.has(e.requestId) ? accepted : beyondHorizon).push(e)
  const unique = uniqueEvents(accepted)
  if (unique.length === 0) return { inserted: 0, duplicates: accepted.length, beyondHorizon }
  const statements = eventChunks(unique).flatMap((json) => {
    const writeId = crypto.randomUUID()
    return [db.prepare(INSERT_EVENTS).bind(json, writeId), db.prepare(ROLL_UP_HOURLY).bind(json, writeId), db.prepare(ROLL_UP_NODE_HOURLY).bind(json, writeId)]
  })
  const results = await db.batch(statements)
  const inserted = results.filter((_, i) => i % 3 === 0).reduce((n, r) => n + r.meta.changes, 0)
  return { inserted, duplicates: accepted.length - inserted, beyondHorizon }
}
