// The request path's way into the usage ledger's queue. A queue send costs far more than an event, so the
// events of requests that end together go in one sendBatch, packed several per message (a Queue takes 5,000
// messages/s, platform-facts §1.3: one message per request would cap the product there): the request whose event
// starts a batch keeps itself alive (waitUntil) until the batch is sent, SEND_LINGER_MS later or at once when it
// holds a full sendBatch. Only data crosses requests here, never a promise. A lost event is unbilled usage: a
// rejected send is retried with backoff, and after the last attempt the events go to the durable outbox
// (durable-objects/usage-outbox), which re-sends them until the Queue takes them.
import { usageOutboxName, usageOutboxShard, type UsageOutboxRpc } from '../../../../durable-objects/usage-outbox/contract.ts'
import { log } from '../../log.ts'
import { packedBytes, packUsageEvents, SEND_MAX_BYTES, type UsagePack, type UsageEvent } from '../../schemas/usage-event.ts'

/** What sendUsage needs of the Worker's bindings: the usage-events Queue and the outbox namespace. */
export type UsageSink = {
  USAGE_EVENTS: { sendBatch(messages: Iterable<{ body: UsagePack; contentType: 'json' }>): Promise<unknown> }
  USAGE_OUTBOX: { getByName(name: string): Pick<UsageOutboxRpc, 'put'> }
}

/**
 * How long an event waits for others to share its send. Events leave after the response, so the wait costs the
 * client nothing; it bounds this isolate's sends to about 1000 / SEND_LINGER_MS a second whatever its request rate.
 */
const SEND_LINGER_MS = 20
/** Sends of one batch before it goes to the outbox; the first retry waits SEND_BACKOFF_MS, doubled after (0.7 s in all). */
const SEND_ATTEMPTS = 4
const SEND_BACKOFF_MS = 100
/** Puts into the outbox before giving up on it (then each event is logged whole, the last resort). */
const OUTBOX_ATTEMPTS = 3

let pending: UsageEvent[] = []
let pendingBytes = 0
let isLingerArmed = false

/** Queues one event; the promise (for waitUntil) ends once the batch this call started, if any, is sent. */
export function sendUsage(sink: UsageSink, event: UsageEvent, backoffMs = SEND_BACKOFF_MS): Promise<void> {
  pending.push(event)
  pendingBytes += packedBytes(event)
  if (pendingBytes >= SEND_MAX_BYTES) return sendRetrying(sink, takePending(), backoffMs)
  if (isLingerArmed) return Promise.resolve()
  isLingerArmed = true
  return new Promise((resolve) => setTimeout(resolve, SEND_LINGER_MS)).then(() => {
    isLingerArmed = false
    const events = takePending()
    return events.length === 0 ? undefined : sendRetrying(sink, events, backoffMs)
  })
}

function takePending(): UsageEvent[] {
  const events = pending
  pending = []
  pendingBytes = 0
  return events
}

async function sendRetrying(sink: UsageSink, events: UsageEvent[], backoffMs: number): Promise<void> {
  const messages = packUsageEvents(events).map((body) => ({ body, contentType: 'json' as const }))
  for (let attempt = 1; ; attempt++) {
    try {
      await sink.USAGE_EVENTS.sendBatch(messages)
      return
    } catch (err) {
      if (attempt >= SEND_ATTEMPTS) {
        log.error('usage_send_failed', { attempts: attempt, error: String(err), events: events.length })
        return toOutbox(sink, events)
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)))
    }
  }
}

async function toOutbox(sink: UsageSink, events: UsageEvent[]): Promise<void> {
  const name = usageOutboxName(usageOutboxShard(events[0]?.requestId ?? ''))
  for (let attempt = 1; ; attempt++) {
    try {
      const put = await sink.USAGE_OUTBOX.getByName(name).put(events)
      log.warn('usage_sent_to_outbox', { outbox: name, stored: put.stored, duplicates: put.duplicates })
      return
    } catch (err) {
      if (attempt >= OUTBOX_ATTEMPTS) {
        // Both the Queue and the outbox refused: the log line is all that is left, so it carries each whole event.
        for (const event of events) log.error('usage_outbox_failed', { attempts: attempt, error: String(err), event })
        return
      }
    }
  }
}
