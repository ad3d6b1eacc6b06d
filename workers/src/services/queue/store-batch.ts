// What the Worker's queue consumers share: the retry backoff of a batch D1 could not take (usage-events,
// usage-events-dlq, node-ops-dlq), the dead-letter stores' all-or-nothing write of a batch, and reading back a raw
// message body a dead-letter row keeps as text.
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../db/client.ts'
import { log } from '../../log.ts'

/** Exponential backoff: 5 s, 10 s, 20 s, ... capped at 5 minutes (`attempts` is 1 on the first delivery). */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, Math.min(attempts - 1, 6)))
}

/**
 * Writes `statements` in one D1 batch (one transaction) and acks the queue batch; if D1 refuses, nothing was stored,
 * so every message is retried with backoff (`failureEvent` is logged at error). A dead-letter queue has no
 * dead-letter queue of its own: the retries (max_retries 100) ride out hours of D1 trouble.
 */
export async function storeBatchOrRetry(db: Db, statements: BatchItem<'sqlite'>[], batch: MessageBatch<unknown>, failureEvent: string): Promise<void> {
  const [first, ...rest] = statements
  if (!first) return
  try {
    await db.batch([first, ...rest])
  } catch (err) {
    log.error(failureEvent, { size: batch.messages.length, error: String(err) })
    for (const msg of batch.messages) msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) })
    return
  }
  batch.ackAll()
}

/** A stored message body as JSON when it is JSON, else the text as it came. */
export function parseStoredBody(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
