// Queue consumer for usage-events (called by the Worker's queue() handler): reads the events of each message (a
// pack of several, or one event from before packing), validates each event on its own, writes the valid ones to
// the ledger and its rollups in one atomic D1 batch, and acks. A batch D1 rejects is retried with backoff (after
// the queue's max_retries the runtime moves the messages to the dead-letter queue). An event that fails the
// schema can never succeed, and one older than the dedupe horizon must not be counted blind: each goes to the
// dead-letter queue on its own (whose consumer, usage-dead-letters.ts, keeps it in D1 for an admin), and the
// other events of its pack are written.
import { z } from 'zod'
import { eventsOfMessage, usageEventSchema, type ParkedUsageEvent, type UsageEvent } from '../../schemas/usage-event.ts'
import { log } from '../../log.ts'
import { retryDelaySeconds } from '../queue/store-batch.ts'
import { writeLedger } from './ledger-write.ts'

/**
 * Events per D1 batch. A consumer batch of 100 full packs is 20,000 events; each slice's JSON is bound to three
 * statements, so 2,000 events keep one D1 call near 2 MB and a consumer invocation near 30 D1 queries.
 */
const WRITE_SLICE_EVENTS = 2_000

type Read = { msg: Message<unknown>; events: UsageEvent[]; parked: ParkedUsageEvent[] }

/** The message's events, and the ones it cannot write (schema failures), each with a stable id for its dead letter. */
function readMessage(msg: Message<unknown>): Read {
  const bodies = eventsOfMessage(msg.body)
  const isPack = bodies.length !== 1 || bodies[0] !== msg.body
  const read: Read = { msg, events: [], parked: [] }
  bodies.forEach((body, i) => {
    const parsed = usageEventSchema.safeParse(body)
    if (parsed.success) read.events.push(parsed.data)
    else read.parked.push({ reason: 'schema', error: z.prettifyError(parsed.error), messageId: isPack ? `${msg.id}:${i}` : msg.id, body })
  })
  return read
}

export async function writeUsageEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const reads = batch.messages.map(readMessage)
  const withEvents = reads.filter((r) => r.events.length > 0)
  if (withEvents.length > 0) {
    try {
      const all = withEvents.flatMap((r) => r.events)
      const beyond = new Set<UsageEvent>()
      const startedAt = Date.now()
      let inserted = 0
      // Slices, each one D1 batch: a slice that fails leaves the earlier ones written, and the redelivery of the
      // whole messages writes them as duplicates, i.e. nothing (the tombstones).
      for (let i = 0; i < all.length; i += WRITE_SLICE_EVENTS) {
        const written = await writeLedger(env.DB, all.slice(i, i + WRITE_SLICE_EVENTS))
        if (written.duplicates > 0) log.info('usage_redelivered', { size: written.inserted + written.duplicates, duplicates: written.duplicates })
        for (const e of written.beyondHorizon) beyond.add(e)
        inserted += written.inserted
      }
      // One line per consumer batch: how long D1 took for how many events (the D1 write's latency, for operators; the
      // c=1 tail bench, `npm run bench:tail`, lines these up with slow requests).
      log.info('usage_written', { events: all.length, inserted, writeMs: Date.now() - startedAt })
      for (const r of withEvents) {
        for (const event of r.events) {
          if (beyond.has(event))
            r.parked.push({
              reason: 'beyond_dedupe_horizon',
              error: `createdAt ${event.createdAt} is older than the dedupe horizon`,
              messageId: `${r.msg.id}:${event.requestId}`,
              body: event,
            })
        }
      }
    } catch (err) {
      log.error('usage_batch_failed', { size: withEvents.length, error: String(err) })
      // Nothing was written (one transaction): the whole message comes back, its bad events with it.
      for (const r of withEvents) r.msg.retry({ delaySeconds: retryDelaySeconds(r.msg.attempts) })
      await parkAndAck(
        env,
        reads.filter((r) => r.events.length === 0),
      )
      return
    }
  }
  await parkAndAck(env, reads)
}

/** If the dead-letter send itself fails this throws, and the runtime redelivers the unacked messages. */
async function parkAndAck(env: Env, reads: Read[]): Promise<void> {
  const parked = reads.flatMap((r) => r.parked)
  for (const p of parked) log.error(p.reason === 'schema' ? 'usage_event_invalid' : 'usage_event_beyond_horizon', { messageId: p.messageId, error: p.error })
  // One DLQ message per parked event, at most 100 per sendBatch (platform-facts §1.3).
  for (let i = 0; i < parked.length; i += 100) {
    await env.USAGE_EVENTS_DLQ.sendBatch(parked.slice(i, i + 100).map((body) => ({ body, contentType: 'json' as const })))
  }
  for (const r of reads) r.msg.ack()
}
