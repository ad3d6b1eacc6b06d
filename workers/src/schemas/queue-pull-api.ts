// Cloudflare Queues' HTTP pull-consumer API (POST .../queues/{queue_id}/messages/pull and /ack), as documented
// (developers.cloudflare.com/queues/configuration/pull-consumers/, cloudflare-typescript queues/messages.ts).
// Parsed by orchestrator-runner's pull client (responses) and by the local dev shim (requests), so both agree.
import { z } from 'zod'

export const MAX_BATCH_SIZE = 100
/** Visibility timeouts and retry delays are capped at 12 h by Cloudflare. */
export const MAX_VISIBILITY_TIMEOUT_MS = 12 * 3600 * 1000
export const MAX_DELAY_SECONDS = 12 * 3600

export const pullRequestSchema = z.object({
  batch_size: z.number().int().min(1).max(MAX_BATCH_SIZE).optional(),
  visibility_timeout_ms: z.number().int().min(1).max(MAX_VISIBILITY_TIMEOUT_MS).optional(),
  /** The docs' examples name it `visibility_timeout` (ms); the OpenAPI SDK uses `visibility_timeout_ms`. Both are accepted. */
  visibility_timeout: z.number().int().min(1).max(MAX_VISIBILITY_TIMEOUT_MS).optional(),
})
export type PullRequest = z.infer<typeof pullRequestSchema>

export const ackRequestSchema = z.object({
  acks: z.array(z.object({ lease_id: z.string().min(1) })).default([]),
  retries: z.array(z.object({ lease_id: z.string().min(1), delay_seconds: z.number().int().min(0).max(MAX_DELAY_SECONDS).optional() })).default([]),
})
export type AckRequest = z.input<typeof ackRequestSchema>

/** `body` is base64 for the `json` and `bytes` content types (metadata `CF-Content-Type`), plain for `text`. */
export const pulledMessageSchema = z.looseObject({
  id: z.string(),
  body: z.string(),
  timestamp_ms: z.number(),
  attempts: z.number().int(),
  lease_id: z.string(),
  metadata: z.record(z.string(), z.string()).optional(),
})
export type PulledWireMessage = z.infer<typeof pulledMessageSchema>

export const pullResultSchema = z.looseObject({
  messages: z.array(pulledMessageSchema),
  message_backlog_count: z.number().optional(),
})
export type PullResult = z.infer<typeof pullResultSchema>

export const ackResultSchema = z.looseObject({
  ackCount: z.number().int(),
  retryCount: z.number().int(),
  warnings: z.record(z.string(), z.string()).optional(),
})
export type AckResult = z.infer<typeof ackResultSchema>

/** Cloudflare's v4 envelope; `result` is checked separately once `success` is known. */
export const apiEnvelopeSchema = z.looseObject({
  success: z.boolean(),
  errors: z.array(z.looseObject({ code: z.number().optional(), message: z.string() })).default([]),
  result: z.unknown().optional(),
})
