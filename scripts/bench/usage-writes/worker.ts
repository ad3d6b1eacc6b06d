// The bench Worker, run in workerd by main.ts: writes generated usage events into its local D1 with the real
// queue consumer (or a baseline INSERT shape with the same exactly-once rollup), times it from inside workerd
// so no client round trip is counted, and checks the ledger and rollup afterwards. Not deployed anywhere.
import type { UsageEvent } from '../../../workers/src/schemas/usage-event.ts'
import { rollupStatements } from '../../../workers/src/services/usage/ledger-write.ts'
import { writeUsageEvents } from '../../../workers/src/services/usage/write-usage-events.ts'

type BenchEnv = { DB: D1Database }
type Migration = { name: string; queries: string[] }
export type RunRequest = { strategy: keyof typeof STRATEGIES; batchSize: number; events: number; label: string }
export type RunResult = { wallMs: number; sqlMs: number; batches: number; ok: boolean; check: unknown }

const HOUR = 3_600_000
const START = Date.UTC(2026, 0, 1)

/** Realistic spread: 50 tenants x 3 keys x 4 models over a day, so each batch touches many rollup buckets. */
function makeEvents(label: string, n: number): UsageEvent[] {
  const outcomes = ['completed', 'completed', 'completed', 'client_aborted', 'upstream_broken'] as const
  return Array.from({ length: n }, (_, i) => ({
    requestId: `${label}/req_${i.toString(16).padStart(32, '0')}`,
    tenantId: `ten_${label}_${i % 50}`,
    keyId: `key_${i % 150}`,
    model: `model-${i % 4}`,
    nodeId: `node_${i % 8}`,
    endpoint: 'chat.completions',
    promptTokens: 20 + (i % 500),
    completionTokens: i % 700,
    outcome: outcomes[i % outcomes.length] ?? 'completed',
    httpStatus: 200,
    usageSource: 'node',
    latencyMs: 50 + (i % 3000),
    ttftMs: i % 7 === 0 ? null : 15 + (i % 90),
    createdAt: START + ((i * 7919) % (24 * HOUR)),
  }))
}

/** A MessageBatch as the Queues runtime hands it to the consumer (acks are no-ops here). */
function messageBatch(events: UsageEvent[]): MessageBatch<unknown> {
  const noop = () => {}
  return {
    queue: 'usage-events', metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } }, ackAll: noop, retryAll: noop,
    messages: events.map((body) => ({ id: body.requestId, timestamp: new Date(), attempts: 1, body, ack: noop, retry: noop })),
  }
}

const COLUMNS = ['request_id', 'tenant_id', 'key_id', 'model', 'node_id', 'endpoint', 'prompt_tokens', 'completion_tokens', 'outcome', 'http_status', 'usage_source', 'latency_ms', 'ttft_ms', 'created_at']
const row = (e: UsageEvent) => [e.requestId, e.tenantId, e.keyId, e.model, e.nodeId, e.endpoint, e.promptTokens, e.completionTokens, e.outcome, e.httpStatus, e.usageSource, e.latencyMs, e.ttftMs, e.createdAt]
const valuesInsert = (rows: number) =>
  `INSERT INTO usage_events (${COLUMNS.join(', ')}) VALUES ${Array(rows).fill(`(${COLUMNS.map(() => '?').join(', ')})`).join(', ')} ON CONFLICT (request_id) DO NOTHING`

const STRATEGIES = {
  /** The real consumer: zod validation, one json_each INSERT, rollup, mark, acks. */
  consumer: (db: D1Database, events: UsageEvent[]) =>
    writeUsageEvents(messageBatch(events), { DB: db, USAGE_EVENTS_DLQ: {} } as unknown as Env),
  /** Baseline: multi-row VALUES, as many rows as fit D1's 100 bound parameters (7 x 14 columns). */
  values7: async (db: D1Database, events: UsageEvent[]) => {
    const perStatement = Math.floor(100 / COLUMNS.length)
    const inserts: D1PreparedStatement[] = []
    for (let i = 0; i < events.length; i += perStatement) {
      const chunk = events.slice(i, i + perStatement)
      inserts.push(db.prepare(valuesInsert(chunk.length)).bind(...chunk.flatMap(row)))
    }
    await db.batch([...inserts, ...rollupStatements(db)])
  },
  /** Baseline: one single-row INSERT statement per event. */
  singleRow: async (db: D1Database, events: UsageEvent[]) => {
    const insert = db.prepare(valuesInsert(1))
    await db.batch([...events.map((e) => insert.bind(...row(e))), ...rollupStatements(db)])
  },
}

/** Wraps D1 to add up the SQL time D1 itself reports for every batch (excludes the binding's own overhead). */
function timed(db: D1Database) {
  const total = { sqlMs: 0, batches: 0 }
  const wrapped = {
    prepare: (q: string) => db.prepare(q),
    batch: async (statements: D1PreparedStatement[]) => {
      const results = await db.batch(statements)
      total.sqlMs += results.reduce((n, r) => n + (r.meta.duration ?? 0), 0)
      total.batches++
      return results
    },
  }
  return { db: wrapped as unknown as D1Database, total }
}

async function run(env: BenchEnv, req: RunRequest): Promise<RunResult> {
  const events = makeEvents(req.label, req.events)
  const { db, total } = timed(env.DB)
  const write = STRATEGIES[req.strategy]
  const started = Date.now()
  for (let i = 0; i < events.length; i += req.batchSize) await write(db, events.slice(i, i + req.batchSize))
  const wallMs = Date.now() - started
  const check = await env.DB.prepare(`SELECT (SELECT count(*) FROM usage_events WHERE request_id LIKE ?1) AS events,
      (SELECT count(*) FROM usage_events WHERE request_id LIKE ?1 AND rolled_up = 0) AS pending,
      (SELECT coalesce(sum(requests), 0) FROM usage_hourly WHERE tenant_id LIKE ?2) AS requests,
      (SELECT coalesce(sum(completion_tokens), 0) FROM usage_hourly WHERE tenant_id LIKE ?2) AS completion_tokens`)
    .bind(`${req.label}/%`, `ten_${req.label}_%`).first<{ events: number; pending: number; requests: number; completion_tokens: number }>()
  const tokens = events.reduce((n, e) => n + e.completionTokens, 0)
  const ok = check?.events === events.length && check.pending === 0 && check.requests === events.length && check.completion_tokens === tokens
  return { wallMs, sqlMs: total.sqlMs, batches: total.batches, ok, check }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url)
    if (url.pathname === '/migrate') {
      for (const m of (await request.json()) as Migration[]) await env.DB.batch(m.queries.map((q) => env.DB.prepare(q)))
      return new Response('ok')
    }
    if (url.pathname === '/run') return Response.json(await run(env, (await request.json()) as RunRequest))
    return new Response('not found', { status: 404 })
  },
} satisfies ExportedHandler<BenchEnv>
