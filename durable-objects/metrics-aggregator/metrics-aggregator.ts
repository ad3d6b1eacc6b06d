// One shard of the gateway's metrics (`metrics:<n>`): Worker isolates add their batched deltas here, /metrics
// reads every shard and sums. A batch carries an id unique to its isolate: a retried batch (the first RPC
// failed after it was applied) is applied once. Series keys and families come from metric-registry.ts.
import { DurableObject } from 'cloudflare:workers'

/** Applied batch ids are kept this long: far longer than any isolate keeps retrying a batch. */
const BATCH_ID_TTL_MS = 24 * 60 * 60 * 1000

export type MetricsBatch = { id: string; deltas: [string, number][] }

export class MetricsAggregator extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS series (key TEXT PRIMARY KEY, value REAL NOT NULL)')
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS applied_batches (id TEXT PRIMARY KEY, at INTEGER NOT NULL)')
    ctx.storage.sql.exec('CREATE INDEX IF NOT EXISTS applied_batches_at ON applied_batches (at)')
  }

  /** Adds a batch of deltas; true if applied now, false if this batch id was already applied. */
  add(batch: MetricsBatch): boolean {
    const sql = this.ctx.storage.sql
    return this.ctx.storage.transactionSync(() => {
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

  /** Every series of this shard. */
  read(): { key: string; value: number }[] {
    return this.ctx.storage.sql.exec<{ key: string; value: number }>('SELECT key, value FROM series').toArray()
  }
}
