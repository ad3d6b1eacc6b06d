// One shard of the gateway's metrics (`metrics:<n>`): Worker isolates add their batched deltas here, /metrics
// reads every shard and sums. A batch carries an id unique to its isolate: a retried batch (the first RPC
// failed after it was applied) is applied once. Series keys and families come from metric-registry.ts.
// Gauges an isolate knows absolutely (its in-flight requests) are not deltas: each batch may carry the
// isolate's current values with a timestamp, kept per isolate; a read sums only reports fresher than a TTL,
// so the count of an isolate that died mid-request ages out instead of staying in the sum forever.
import { DurableObject } from 'cloudflare:workers'
import { guardDurableObject } from '../../workers/src/platform/guard.ts'
import { FAMILIES, seriesKey } from './metric-registry.ts'

/** Applied batch ids are kept this long: far longer than any isolate keeps retrying a batch. */
const BATCH_ID_TTL_MS = 24 * 60 * 60 * 1000
/** Gauge reports this old are deleted; reads already ignore them after the (much shorter) TTL they pass. */
const GAUGE_ROW_TTL_MS = 60 * 60 * 1000

/** One isolate's absolute gauge values at `at` (epoch ms): series key → value. */
export type GaugeReport = { isolate: string; at: number; values: [string, number][] }
export type MetricsBatch = { id: string; deltas: [string, number][]; gauges?: GaugeReport }

export class MetricsAggregator extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    guardDurableObject(this, ctx, env) // production's limits in tests (each call is one invocation)
    const sql = ctx.storage.sql
    sql.exec('CREATE TABLE IF NOT EXISTS series (key TEXT PRIMARY KEY, value REAL NOT NULL)')
    sql.exec('CREATE TABLE IF NOT EXISTS applied_batches (id TEXT PRIMARY KEY, at INTEGER NOT NULL)')
    sql.exec('CREATE INDEX IF NOT EXISTS applied_batches_at ON applied_batches (at)')
    sql.exec(
      'CREATE TABLE IF NOT EXISTS isolate_gauges (isolate TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (isolate, key))',
    )
    // cic_active_requests used to be summed +1/-1 deltas; such a row holds the drift of dead isolates.
    sql.exec('DELETE FROM series WHERE key = ?', seriesKey(FAMILIES.activeRequests.name, {}))
  }

  /** Adds a batch of deltas; true if applied now, false if this batch id was already applied. */
  add(batch: MetricsBatch): boolean {
    const sql = this.ctx.storage.sql
    return this.ctx.storage.transactionSync(() => {
      // Absolute values are safe to apply again, so a retried batch still refreshes them (never with older ones).
      if (batch.gauges) this.putGauges(batch.gauges)
      if (sql.exec('SELECT 1 FROM applied_batches WHERE id = ?', batch.id).toArray().length > 0) return false
      const now = Date.now()
      sql.exec('INSERT INTO applied_batches (id, at) VALUES (?, ?)', batch.id, now)
      sql.exec('DELETE FROM applied_batches WHERE at < ?', now - BATCH_ID_TTL_MS)
      for (const [key, delta] of batch.deltas) {
        sql.exec('INSERT INTO series (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value', key, delta)
      }
      return true
    })
  }

  private putGauges({ isolate, at, values }: GaugeReport): void {
    const sql = this.ctx.storage.sql
    for (const [key, value] of values) {
      sql.exec(
        'INSERT INTO isolate_gauges (isolate, key, value, at) VALUES (?, ?, ?, ?) ON CONFLICT (isolate, key) DO UPDATE SET value = excluded.value, at = excluded.at WHERE excluded.at >= isolate_gauges.at',
        isolate,
        key,
        value,
        at,
      )
    }
    sql.exec('DELETE FROM isolate_gauges WHERE at < ?', Date.now() - GAUGE_ROW_TTL_MS)
  }

  /** Every series of this shard; gauges are the sum of the isolate reports at most `gaugeTtlMs` old. */
  read(gaugeTtlMs: number): { key: string; value: number }[] {
    const sql = this.ctx.storage.sql
    const series = sql.exec<{ key: string; value: number }>('SELECT key, value FROM series').toArray()
    const gauges = sql
      .exec<{ key: string; value: number }>('SELECT key, SUM(value) AS value FROM isolate_gauges WHERE at >= ? GROUP BY key', Date.now() - gaugeTtlMs)
      .toArray()
    return [...series, ...gauges]
  }
}
