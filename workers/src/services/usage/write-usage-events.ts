// Queue consumer for usage-events: validates each message and inserts the batch into D1 in one atomic
// batch(), unique on request id so a redelivered message is a no-op. Called by the Worker's queue() handler.
import { usageEventSchema, type UsageEvent } from '../../schemas/usage-event.ts'
import { createDb } from '../../db/client.ts'
import { usageEvents } from '../../db/schema.ts'
import { log } from '../../log.ts'

const COLUMNS = 14
const ROWS_PER_STATEMENT = Math.floor(100 / COLUMNS) // D1 allows 100 bound parameters per statement

export async function writeUsageEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const valid: { msg: Message<unknown>; event: UsageEvent }[] = []
  for (const msg of batch.messages) {
    const parsed = usageEventSchema.safeParse(msg.body)
    if (parsed.success) valid.push({ msg, event: parsed.data })
    else {
      // A malformed message can never succeed: park it in the dead-letter queue at once, where it is kept.
      log.error('usage_event_invalid', { messageId: msg.id, error: parsed.error.message })
      await env.USAGE_EVENTS_DLQ.send({ reason: 'schema', error: parsed.error.message, body: msg.body })
      msg.ack()
    }
  }
  if (valid.length === 0) return
  const db = createDb(env.DB)
  const statements = []
  for (let i = 0; i < valid.length; i += ROWS_PER_STATEMENT) {
    const rows = valid.slice(i, i + ROWS_PER_STATEMENT).map(({ event }) => event)
    statements.push(db.insert(usageEvents).values(rows).onConflictDoNothing({ target: usageEvents.requestId }))
  }
  try {
    await db.batch(statements as [typeof statements[number], ...typeof statements])
    for (const { msg } of valid) msg.ack()
  } catch (err) {
    log.error('usage_batch_failed', { size: valid.length, error: String(err) })
    for (const { msg } of valid) msg.retry({ delaySeconds: Math.min(60, 2 ** msg.attempts) })
  }
}
