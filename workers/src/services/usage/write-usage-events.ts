// Queue consumer for usage-events (called by the Worker's queue() handler): validates each message, writes the
// valid ones to the ledger and its hourly rollup in one atomic D1 batch, and acks them. A batch D1 rejects is
// retried with backoff (after the queue's max_retries the runtime moves it to the dead-letter queue); a
// message that fails the schema can never succeed, so it goes to the dead-letter queue at once (whose consumer,
// usage-dead-letters.ts, keeps every message in D1 for an admin to replay).
import { z } from 'zod'
import { usageEventSchema, type ParkedUsageEvent, type UsageEvent } from '../../schemas/usage-event.ts'
import { log } from '../../log.ts'
import { writeLedger } from './ledger-write.ts'

/** Exponential backoff: 5 s, 10 s, 20 s, ... capped at 5 minutes (`attempts` is 1 on the first delivery). */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, attempts - 1))
}

type Parked = ParkedUsageEvent

export async function writeUsageEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const valid: { msg: Message<unknown>; event: UsageEvent }[] = []
  const invalid: { msg: Message<unknown>; parked: Parked }[] = []
  for (const msg of batch.messages) {
    const parsed = usageEventSchema.safeParse(msg.body)
    if (parsed.success) valid.push({ msg, event: parsed.data })
    else invalid.push({ msg, parked: { reason: 'schema', error: z.prettifyError(parsed.error), messageId: msg.id, body: msg.body } })
  }
  if (valid.length > 0) {
    try {
      const written = await writeLedger(env.DB, valid.map((v) => v.event))
      for (const { msg } of valid) msg.ack()
      if (written.duplicates > 0) log.info('usage_redelivered', { size: valid.length, duplicates: written.duplicates })
    } catch (err) {
      log.error('usage_batch_failed', { size: valid.length, error: String(err) })
      for (const { msg } of valid) msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) })
    }
  }
  if (invalid.length > 0) await parkInvalid(env, invalid)
}

/** If the dead-letter send itself fails this throws, and the runtime redelivers the unacked messages. */
async function parkInvalid(env: Env, invalid: { msg: Message<unknown>; parked: Parked }[]): Promise<void> {
  for (const { parked } of invalid) log.error('usage_event_invalid', { messageId: parked.messageId, error: parked.error })
  await env.USAGE_EVENTS_DLQ.sendBatch(invalid.map(({ parked }) => ({ body: parked, contentType: 'json' as const })))
  for (const { msg } of invalid) msg.ack()
}
