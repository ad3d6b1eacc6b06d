// What the Worker needs to reach the UsageOutbox objects: their names, the shard count and the RPC shapes.
// The Worker imports this file, never the class.
import type { UsageEvent } from '../../workers/src/schemas/usage-event.ts'

/**
 * Shards of the outbox. When the usage queue refuses sends it refuses them for every isolate at once; one object
 * (about 1,000 small storage writes a second) would then be the bottleneck, so events spread over a few.
 */
export const USAGE_OUTBOX_SHARDS = 4
export const usageOutboxName = (shard: number) => `usage-outbox:${shard}`

/** The shard for a batch of events: by its first request id, so a retried batch goes to the same object. */
export function usageOutboxShard(requestId: string): number {
  let h = 0
  for (let i = 0; i < requestId.length; i++) h = (h * 31 + requestId.charCodeAt(i)) >>> 0
  return h % USAGE_OUTBOX_SHARDS
}

export type OutboxPutResult = { stored: number; duplicates: number }
/** Read at scrape time: events ever taken in (a counter) and events still waiting (a gauge). */
export type OutboxStats = { received: number; pending: number }
export type OutboxDeliverResult = { sent: number; pending: number; error: string | null }

/** The RPC surface (checked by `satisfies` in the class file). */
export interface UsageOutboxRpc {
  put(events: UsageEvent[]): Promise<OutboxPutResult>
  stats(): Promise<OutboxStats>
  deliver(): Promise<OutboxDeliverResult>
}
