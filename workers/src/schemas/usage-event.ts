// The usage-events queue contract: one message per request that reached a node. Its id is the request id,
// which makes every write of it idempotent.
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
  outcome: z.enum(['completed', 'client_aborted', 'upstream_broken', 'upstream_error']),
  httpStatus: z.number().int(),
  /** 'node': the node's own usage report; 'gateway_count': the node gave none, the gateway counted chunks. */
  usageSource: z.enum(['node', 'gateway_count']),
  /** Set when the reported tokens passed what the request could use (forward-inference.ts) and were cut to it. */
  usageClamped: z.literal(true).optional(),
  latencyMs: z.number().int().nonnegative(),
  ttftMs: z.number().int().nonnegative().nullable(),
  createdAt: z.number().int().positive(),
})
export type UsageEvent = z.infer<typeof usageEventSchema>

/**
 * What the consumer sends to usage-events-dlq for a message that failed the schema (write-usage-events.ts). The
 * runtime's own dead-lettering (after max_retries) moves the raw event instead, so the DLQ holds both shapes.
 */
export const parkedUsageEventSchema = z.object({
  reason: z.literal('schema'),
  error: z.string(),
  messageId: z.string(),
  body: z.unknown(),
})
export type ParkedUsageEvent = z.infer<typeof parkedUsageEventSchema>
