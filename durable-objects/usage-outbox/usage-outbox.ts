// A durable fallback for usage events the Queue refused (one object per `usage-outbox:<n>`, see contract.ts).
// send-usage.ts puts a batch here after its last failed send; an alarm re-sends the events to the usage-events
// Queue, packed, until the Queue takes them, and only then forgets them. The consumer's exactly-once ledger write
// makes a re-send that already got through (a send that failed after the queue took it, or an object that died
// between send and delete) count nothing twice. Nothing here is lost to a log line.
import { DurableObject } from 'cloudflare:workers'
import { log } from '../../workers/src/log.ts'
import { guardDurableObject } from '../../workers/src/platform/guard.ts'
import { packUsageEvents, SEND_MAX_BYTES, packedBytes, usageEventSchema, type UsageEvent } from '../../workers/src/schemas/usage-event.ts'
import type { OutboxDeliverResult, OutboxPutResult, OutboxStats, UsageOutboxRpc } from './contract.ts'
import { OUTBOX_FIRST_DELAY_MS, outboxRetryDelayMs } from './outbox-schedule.ts'

/** Sends per delivery run; each takes at most one sendBatch of events (SEND_MAX_BYTES), oldest first. */
const MAX_SENDS_PER_RUN = 50
/** Rows read for one send: more than a sendBatch holds, then trimmed to its byte budget. */
const ROWS_PER_SEND = 600

type Row = { request_id: string; body: string }

export class UsageOutbox extends DurableObject<Env> implements UsageOutboxRpc {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    guardDurableObject(this, ctx, env) // production's limits in tests (each call is one invocation)
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS events (request_id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, body TEXT NOT NULL)`)
      ctx.storage.sql.exec('CREATE INDEX IF NOT EXISTS events_created_idx ON events (created_at)')
      ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)')
    })
  }

  /** Stores the events (a request id already here is stored once) and arms the delivery alarm. */
  async put(events: UsageEvent[]): Promise<OutboxPutResult> {
    const sql = this.ctx.storage.sql
    const stored = this.ctx.storage.transactionSync(() => {
      let n = 0
      // Three bound parameters per statement (Durable Object SQL, like D1, binds at most 100).
      for (const e of events) {
        n +=
          sql.exec('INSERT OR IGNORE INTO events (request_id, created_at, body) VALUES (?, ?, ?)', e.requestId, e.createdAt, JSON.stringify(e)).rowsWritten > 0
            ? 1
            : 0
      }
      this.bump('received', n)
      return n
    })
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + OUTBOX_FIRST_DELAY_MS)
    return { stored, duplicates: events.length - stored }
  }

  async stats(): Promise<OutboxStats> {
    return { received: this.counter('received'), pending: this.pending() }
  }

  /** Re-sends what waits, oldest first, until the Queue refuses or the run's sends are used up. */
  async deliver(): Promise<OutboxDeliverResult> {
    let sent = 0
    for (let i = 0; i < MAX_SENDS_PER_RUN; i++) {
      const events = this.nextSend()
      if (events.length === 0) break
      try {
        await this.env.USAGE_EVENTS.sendBatch(packUsageEvents(events).map((body) => ({ body, contentType: 'json' as const })))
      } catch (err) {
        this.bump('failures', 1)
        return { sent, pending: this.pending(), error: String(err) }
      }
      // One bound parameter: the ids as a JSON array.
      this.ctx.storage.sql.exec('DELETE FROM events WHERE request_id IN (SELECT value FROM json_each(?))', JSON.stringify(events.map((e) => e.requestId)))
      sent += events.length
    }
    this.setCounter('failures', 0)
    return { sent, pending: this.pending(), error: null }
  }

  override async alarm(): Promise<void> {
    // Never throws: a throwing alarm is retried a few times and then dropped, and events would wait for the next put.
    const result = await this.deliver().catch((err: unknown): OutboxDeliverResult => ({ sent: 0, pending: this.pending(), error: String(err) }))
    if (result.pending === 0) return
    // Still events waiting: the Queue refused (back off), or the run's sends ran out (go on at once).
    const delayMs = result.error === null ? 0 : outboxRetryDelayMs(this.counter('failures'))
    if (result.error !== null) log.warn('usage_outbox_send_failed', { pending: result.pending, error: result.error, retryInMs: delayMs })
    await this.ctx.storage.setAlarm(Date.now() + delayMs)
  }

  private nextSend(): UsageEvent[] {
    const rows = this.ctx.storage.sql.exec<Row>('SELECT request_id, body FROM events ORDER BY created_at LIMIT ?', ROWS_PER_SEND).toArray()
    const events: UsageEvent[] = []
    let bytes = 0
    for (const row of rows) {
      const event = usageEventSchema.parse(JSON.parse(row.body))
      bytes += packedBytes(event)
      if (events.length > 0 && bytes > SEND_MAX_BYTES) break
      events.push(event)
    }
    return events
  }

  private pending(): number {
    return this.ctx.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM events').one().n
  }

  private counter(name: string): number {
    return this.ctx.storage.sql.exec<{ value: number }>('SELECT value FROM counters WHERE name = ?', name).toArray()[0]?.value ?? 0
  }

  private bump(name: string, delta: number): void {
    this.ctx.storage.sql.exec('INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = value + ?2', name, delta)
  }

  private setCounter(name: string, value: number): void {
    this.ctx.storage.sql.exec('INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2', name, value)
  }
}
