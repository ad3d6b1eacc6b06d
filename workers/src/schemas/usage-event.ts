// The usage-events queue contract: one usage event per request that reached a node, several events packed per
// message (usagePackSchema; one-event messages from before packing are still accepted). An event's request id,
// with its createdAt, makes every write of it idempotent. Imported by the Worker and by the UsageOutbox object.
import { z } from 'zod'

export const usageEventSchema = z.object({
  requestId: z.string().min(1),
  tenantId: z.string().min(1),
  keyId: z.string().min(1),
  model: z.string().min(1),
  nodeId: z.string().min(1),
  endpoint: z.enum(['chat.completions', 'completions', 'embeddings']),
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  /**
   * Of promptTokens, those the node reported served from its prefix cache (usage.prompt_tokens_details.cached_tokens),
   * billed at the cached-input price. Absent (events from before it, gateway counts): 0. The ledger clamps it to
   * [0, promptTokens] when writing (ledger-write.ts).
   */
  cachedPromptTokens: z.number().int().nonnegative().optional(),
  outcome: z.enum(['completed', 'client_aborted', 'upstream_broken', 'upstream_error']),
  httpStatus: z.number().int(),
  /** 'node': the node's own usage report; 'gateway_count': the node gave none, the gateway counted chunks. */
  usageSource: z.enum(['node', 'gateway_count']),
  /** Set when the reported tokens passed what the request could use (forward-inference.ts) and were cut to it. */
  usageClamped: z.literal(true).optional(),
  latencyMs: z.number().int().nonnegative(),
  ttftMs: z.number().int().nonnegative().nullable(),
  createdAt: z.number().int().positive(),
  /**
   * Wall time the request started (admission): the price in force then applies (model_prices). Absent in events
   * sent before prices existed: createdAt is used.
   */
  startedAt: z.number().int().positive().optional(),
})
export type UsageEvent = z.infer<typeof usageEventSchema>

/**
 * A packed message: the events of several requests. Each element is checked on its own by the consumer, so one
 * bad event does not take the others with it.
 */
export const usagePackSchema = z.object({ events: z.array(z.unknown()).min(1) })
export type UsagePack = { events: UsageEvent[] }

/** Cloudflare Queues: 128 KB per message, 256 KB per sendBatch, 100 messages per sendBatch (platform-facts §1.3). */
const MESSAGE_LIMIT_BYTES = 128 * 1024
/** A pack's JSON stays at half the message limit: room for the queue's own envelope and a wider event later. */
export const PACK_MAX_BYTES = MESSAGE_LIMIT_BYTES / 2
/** Events per pack at most, whatever their size: bounds one message's share of a consumer batch. */
export const PACK_MAX_EVENTS = 200
/** Bytes of packs per sendBatch: three full packs stay under the 256 KB batch limit. */
export const SEND_MAX_BYTES = 3 * PACK_MAX_BYTES
const PACK_OVERHEAD_BYTES = '{"events":[]}'.length

const encoder = new TextEncoder()
/** An event's size in a pack: its UTF-8 JSON and the comma after it. */
export const packedBytes = (event: UsageEvent) => encoder.encode(JSON.stringify(event)).length + 1

/** Packs events in order into as few messages as fit PACK_MAX_BYTES and PACK_MAX_EVENTS. */
export function packUsageEvents(events: readonly UsageEvent[]): UsagePack[] {
  const packs: UsagePack[] = []
  let current: UsageEvent[] = []
  let bytes = PACK_OVERHEAD_BYTES
  for (const event of events) {
    const size = packedBytes(event)
    if (current.length > 0 && (bytes + size > PACK_MAX_BYTES || current.length >= PACK_MAX_EVENTS)) {
      packs.push({ events: current })
      current = []
      bytes = PACK_OVERHEAD_BYTES
    }
    current.push(event)
    bytes += size
  }
  if (current.length > 0) packs.push({ events: current })
  return packs
}

/** Each event a message carries: the elements of a pack, or the message itself (one-event messages). */
export function eventsOfMessage(body: unknown): unknown[] {
  const pack = usagePackSchema.safeParse(body)
  return pack.success ? pack.data.events : [body]
}

/**
 * What the consumer sends to usage-events-dlq for an event it will not write: it failed the schema, or it arrived
 * after the dedupe horizon (usage-retention.ts). The runtime's own dead-lettering (after max_retries) moves the
 * raw message (an event or a pack) instead, so the DLQ holds both shapes.
 */
export const parkedUsageEventSchema = z.object({
  reason: z.enum(['schema', 'beyond_dedupe_horizon']),
  error: z.string(),
  messageId: z.string(),
  body: z.unknown(),
})
export type ParkedUsageEvent = z.infer<typeof parkedUsageEventSchema>
