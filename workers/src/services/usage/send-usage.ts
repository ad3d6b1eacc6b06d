// The request path's way into the usage ledger's queue. A queue send costs far more than an event, so the
// events of requests that end together go in one sendBatch: the request whose event starts a batch keeps
// itself alive (waitUntil) until the batch is sent, SEND_LINGER_MS later or at once when the batch is full.
// Only data crosses requests here, never a promise. A lost event is unbilled usage: a rejected send is retried
// with backoff, and after the last attempt every event of the batch is logged whole, so it can be replayed.
import { log } from '../../log.ts'
import type { UsageEvent } from '../../schemas/usage-event.ts'

/** What sendUsage needs of the USAGE_EVENTS binding. */
export type UsageQueue = { sendBatch(messages: Iterable<{ body: UsageEvent; contentType: 'json' }>): Promise<unknown> }

/** How long an event waits for others to share its send. */
const SEND_LINGER_MS = 2
/** Cloudflare Queues: at most 100 messages per sendBatch (and 256 KB; an event is well under 1 KB). */
const MAX_BATCH = 100
/** Sends of one batch before giving up; the first retry waits SEND_BACKOFF_MS, doubled after (0.7 s in all). */
const SEND_ATTEMPTS = 4
const SEND_BACKOFF_MS = 100

let pending: UsageEvent[] = []
let isLingerArmed = false

/** Queues one event; the promise (for waitUntil) ends once the batch this call started, if any, is sent. */
export function sendUsage(queue: UsageQueue, event: UsageEvent, backoffMs = SEND_BACKOFF_MS): Promise<void> {
  pending.push(event)
  if (pending.length >= MAX_BATCH) return sendRetrying(queue, takePending(), backoffMs)
  if (isLingerArmed) return Promise.resolve()
  isLingerArmed = true
  return new Promise((resolve) => setTimeout(resolve, SEND_LINGER_MS)).then(() => {
    isLingerArmed = false
    const events = takePending()
    return events.length === 0 ? undefined : sendRetrying(queue, events, backoffMs)
  })
}

function takePending(): UsageEvent[] {
  const events = pending
  pending = []
  return events
}

async function sendRetrying(queue: UsageQueue, events: UsageEvent[], backoffMs: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await queue.sendBatch(events.map((body) => ({ body, contentType: 'json' as const })))
      return
    } catch (err) {
      if (attempt >= SEND_ATTEMPTS) {
        for (const event of events) log.error('usage_send_failed', { attempts: attempt, error: String(err), event })
        return
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)))
    }
  }
}
