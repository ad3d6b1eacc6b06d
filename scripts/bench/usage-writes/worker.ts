// The bench Worker, run in workerd by main.ts: writes generated usage events into its local D1 with the real
// queue consumer (packed messages, or one event per message as before packing), times it from inside workerd so
// no client round trip is counted, adds up the rows D1 reports written (`meta.rows_written`, what D1 bills),
// prunes with the real retention code, and
// checks the ledger and rollups afterwards. Not deployed anywhere.
import { packUsageEvents, type UsageEvent } from '../../../workers/src/schemas/usage-event.ts'
import { pruneUsage } from '../../../workers/src/services/usage/usage-retention.ts'
import { writeUsageEvents } from '../../../workers/src/services/usage/write-usage-events.ts'

type BenchEnv = { DB: D1Database }
type Migration = { name: string; queries: string[] }
export type RunRequest = { isPacked: boolean; messagesPerBatch: number; events: number; label: string }
export type RunResult = { wallMs: number; sqlMs: number; batches: number; rowsWritten: number; ok: boolean; check: unknown }
export type PruneResult = { rowsWritten: number; events: number }

const HOUR = 3_600_000
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')

/**
 * Realistic spread and id lengths: 50 tenants x 3 keys x 4 models x 8 nodes, request ids as the gateway makes
 * them (`req_` + 32 hex), finished within the last hour (inside the dedupe horizon, as live traffic is).
 */
function makeEvents(label: string, n: number, now: number): UsageEvent[] {
  const outcomes = ['completed', 'completed', 'completed', 'client_aborted', 'upstream_broken'] as const
  const seed = [...label].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7)
  return Array.from({ length: n }, (_, i) => ({
    requestId: `req_${hex(seed, 8)}${hex(i, 24)}`,
    tenantId: `ten_${label}_${i % 50}`,
    keyId: `key_${hex(i % 150, 16)}`,
    model: `meta-llama/Llama-3.1-8B-Instruct-${i % 4}`,
    nodeId: `node_${hex(i % 8, 32)}`,
    endpoint: 'chat.completions',
    promptTokens: 20 + (i % 500),
    completionTokens: i % 700,
    outcome: outcomes[i % outcomes.length] ?? 'completed',
    httpStatus: 200,
    usageSource: 'node',
    latencyMs: 50 + (i % 3000),
    ttftMs: i % 7 === 0 ? null : 15 + (i % 90),
    createdAt: now - HOUR + Math.floor((i / n) * HOUR),
  }))
}

/** A MessageBatch as the Queues runtime hands it to the consumer (acks are no-ops here). */
function messageBatch(bodies: unknown[], label: string, offset: number): MessageBatch<unknown> {
  const noop = () => {}
  return {
    queue: 'usage-events',
    metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } },
    ackAll: noop,
    retryAll: noop,
    messages: bodies.map((body, i) => ({ id: `${label}-${offset + i}`, timestamp: new Date(), attempts: 1, body, ack: noop, retry: noop })),
  }
}

/** Wraps D1 to add up the SQL time and the rows written D1 itself reports for every statement. */
function metered(db: D1Database) {
  const total = { sqlMs: 0, batches: 0, rowsWritten: 0 }
  const add = (meta: D1Meta) => {
    total.sqlMs += meta.duration ?? 0
    total.rowsWritten += meta.rows_written ?? 0
  }
  const wrapped = {
    prepare: (q: string) => {
      const statement = db.prepare(q)
      return {
        bind: (...values: unknown[]) => {
          const bound = statement.bind(...values)
          const runOnce = bound.run.bind(bound)
          return Object.assign(bound, {
            run: async () => {
              const r = await runOnce()
              add(r.meta)
              return r
            },
          })
        },
      }
    },
    batch: async (statements: D1PreparedStatement[]) => {
      const results = await db.batch(statements)
      for (const r of results) add(r.meta)
      total.batches++
      return results
    },
  }
  return { db: wrapped as unknown as D1Database, total }
}

async function run(env: BenchEnv, req: RunRequest): Promise<RunResult> {
  const events = makeEvents(req.label, req.events, Date.now())
  const bodies: unknown[] = req.isPacked ? packUsageEvents(events) : events
  const { db, total } = metered(env.DB)
  const started = Date.now()
  for (let i = 0; i < bodies.length; i += req.messagesPerBatch) {
    await writeUsageEvents(messageBatch(bodies.slice(i, i + req.messagesPerBatch), req.label, i), { DB: db, USAGE_EVENTS_DLQ: {} } as unknown as Env)
  }
  const wallMs = Date.now() - started
  const check = await env.DB.prepare(`SELECT (SELECT count(*) FROM usage_events WHERE tenant_id LIKE ?1) AS events,
      (SELECT coalesce(sum(requests), 0) FROM usage_hourly WHERE tenant_id LIKE ?1) AS requests,
      (SELECT coalesce(sum(completion_tokens), 0) FROM usage_hourly WHERE tenant_id LIKE ?1) AS completion_tokens`)
    .bind(`ten_${req.label}_%`)
    .first<{ events: number; requests: number; completion_tokens: number }>()
  const tokens = events.reduce((n, e) => n + e.completionTokens, 0)
  const ok = check?.events === events.length && check.requests === events.length && check.completion_tokens === tokens
  return { wallMs, sqlMs: total.sqlMs, batches: total.batches, rowsWritten: total.rowsWritten, ok, check }
}

/** Prunes every event (as the cron would once they are past the horizon) and reports what that wrote. */
async function prune(env: BenchEnv): Promise<PruneResult> {
  const { db, total } = metered(env.DB)
  const report = await pruneUsage(db, Date.now() + 30 * 24 * HOUR, 10_000)
  return { rowsWritten: total.rowsWritten, events: report.events }
}

/**
 * 90 days of rollups shaped as the consumer leaves them: `combos` tenant/key/model combinations active every hour
 * for `hours` hours, written hour after hour (one statement; a recursive CTE makes the rows).
 */
async function seedRollups(env: BenchEnv, combos: number, hours: number): Promise<{ rows: number }> {
  const start = Math.floor(Date.now() / HOUR) * HOUR - hours * HOUR
  const result = await env.DB.prepare(`WITH RECURSIVE h(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM h WHERE n + 1 < ?2),
      c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n + 1 < ?1)
    INSERT INTO usage_hourly (tenant_id, key_id, model, hour_start, prompt_tokens, completion_tokens, requests, errors)
    SELECT 'ten_' || printf('%024x', c.n % 200), 'key_' || printf('%016x', c.n), 'meta-llama/Llama-3.1-8B-Instruct-' || (c.n % 4),
      ?3 + h.n * ${HOUR}, 123456 + c.n, 654321 + h.n, 1000 + c.n, c.n % 7
    FROM h, c ORDER BY h.n, c.n`)
    .bind(combos, hours, start)
    .run()
  return { rows: result.meta.changes }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url)
    if (url.pathname === '/migrate') {
      for (const m of (await request.json()) as Migration[]) await env.DB.batch(m.queries.map((q) => env.DB.prepare(q)))
      return new Response('ok')
    }
    if (url.pathname === '/run') return Response.json(await run(env, (await request.json()) as RunRequest))
    if (url.pathname === '/prune') return Response.json(await prune(env))
    if (url.pathname === '/rollups') {
      const { combos, hours } = (await request.json()) as { combos: number; hours: number }
      return Response.json(await seedRollups(env, combos, hours))
    }
    return new Response('not found', { status: 404 })
  },
} satisfies ExportedHandler<BenchEnv>
