// LOCAL DEV ONLY. One object per queue (`queue:<name>`) emulating Cloudflare Queues' pull consumer, because
// wrangler dev cannot serve pull consumers (workers-sdk#9665). The Worker's dev-only queue() consumer stores
// each node-ops message here (send); routes/local-queues.ts serves pull/ack to orchestrator-runner with the
// exact REST shapes. Leases, visibility timeouts, attempts and retry delays behave as documented.
import { DurableObject } from 'cloudflare:workers'
import { guardDurableObject } from '../../workers/src/platform/guard.ts'
import {
  encodeBody,
  messageIdOfLease,
  newLeaseId,
  toWireMessage,
  type ContentType,
  type ShimAckResult,
  type ShimPullResult,
  type StoredMessage,
} from './queue-shim-core.ts'

/** Cloudflare deletes (or dead-letters) a message once it has been delivered this many times; 100 is its maximum. */
const MAX_DELIVERIES = 100

export type SendInput = { id?: string; body: unknown; contentType?: ContentType; timestampMs?: number; delaySeconds?: number }
export type AckInput = { acks: string[]; retries: { leaseId: string; delaySeconds: number }[] }

type Row = { id: string; body: string; content_type: ContentType; timestamp_ms: number; attempts: number }

export class LocalQueueShim extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    guardDurableObject(this, ctx, env) // production's limits in tests (each call is one invocation)
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, body TEXT NOT NULL, content_type TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, visible_at INTEGER NOT NULL, lease_id TEXT)`)
    })
  }

  /** Stores a message; the same id twice is stored once (the push consumer may redeliver). */
  async send(input: SendInput): Promise<string> {
    const id = input.id ?? crypto.randomUUID().replaceAll('-', '')
    const contentType = input.contentType ?? 'json'
    const now = Date.now()
    this.ctx.storage.sql.exec(
      'INSERT OR IGNORE INTO messages (id, body, content_type, timestamp_ms, attempts, visible_at) VALUES (?, ?, ?, ?, 0, ?)',
      id,
      encodeBody(input.body, contentType),
      contentType,
      input.timestampMs ?? now,
      now + (input.delaySeconds ?? 0) * 1000,
    )
    return id
  }

  /** Leases up to `batchSize` visible messages for `visibilityTimeoutMs`; each delivery counts as an attempt. */
  async pull(options: { batchSize: number; visibilityTimeoutMs: number }): Promise<ShimPullResult> {
    const now = Date.now()
    return this.ctx.storage.transactionSync(() => {
      const sql = this.ctx.storage.sql
      sql.exec('DELETE FROM messages WHERE attempts >= ? AND visible_at <= ?', MAX_DELIVERIES, now)
      const rows = sql
        .exec<Row>(
          'SELECT id, body, content_type, timestamp_ms, attempts FROM messages WHERE visible_at <= ? ORDER BY visible_at, timestamp_ms LIMIT ?',
          now,
          options.batchSize,
        )
        .toArray()
      const messages = rows.map((row) => {
        const leaseId = newLeaseId(row.id)
        sql.exec('UPDATE messages SET attempts = attempts + 1, lease_id = ?, visible_at = ? WHERE id = ?', leaseId, now + options.visibilityTimeoutMs, row.id)
        const stored: StoredMessage = { id: row.id, body: row.body, contentType: row.content_type, timestampMs: row.timestamp_ms, attempts: row.attempts + 1 }
        return toWireMessage(stored, leaseId)
      })
      const backlog = sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM messages').one().n
      return { messages, message_backlog_count: backlog }
    })
  }

  /**
   * Acks delete; retries make the message visible again after its delay. A lease names its message, so an ack
   * or retry with an expired lease still applies (Cloudflare accepts late acks); unknown messages get a warning.
   */
  async ack(input: AckInput): Promise<ShimAckResult> {
    const now = Date.now()
    return this.ctx.storage.transactionSync(() => {
      const sql = this.ctx.storage.sql
      const warnings: Record<string, string> = {}
      const exists = (id: string | null) => id !== null && sql.exec('SELECT 1 FROM messages WHERE id = ?', id).toArray().length > 0
      let ackCount = 0
      let retryCount = 0
      for (const leaseId of input.acks) {
        const id = messageIdOfLease(leaseId)
        if (!exists(id)) {
          warnings[leaseId] = 'message not found (already acknowledged or expired)'
          continue
        }
        sql.exec('DELETE FROM messages WHERE id = ?', id)
        ackCount++
      }
      for (const { leaseId, delaySeconds } of input.retries) {
        const id = messageIdOfLease(leaseId)
        if (!exists(id)) {
          warnings[leaseId] = 'message not found (already acknowledged or expired)'
          continue
        }
        sql.exec('UPDATE messages SET visible_at = ?, lease_id = NULL WHERE id = ?', now + delaySeconds * 1000, id)
        retryCount++
      }
      return { ackCount, retryCount, warnings }
    })
  }
}
