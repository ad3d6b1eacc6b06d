// Pure parts of the local pull-queue emulation: Cloudflare's wire encoding of message bodies, lease ids that
// name their message (so a late ack still finds it, as Cloudflare accepts), and the defaults of pull requests.
import type { PullRequest } from '../../workers/src/schemas/queue-pull-api.ts'

export type ContentType = 'json' | 'text' | 'bytes'
export type StoredMessage = { id: string; body: string; contentType: ContentType; timestampMs: number; attempts: number }
// Plain types (not the zod loose-object ones) so they cross the Durable Object RPC boundary.
export type WireMessage = { id: string; body: string; timestamp_ms: number; attempts: number; lease_id: string; metadata: Record<string, string> }
export type ShimPullResult = { messages: WireMessage[]; message_backlog_count: number }
export type ShimAckResult = { ackCount: number; retryCount: number; warnings: Record<string, string> }

export const DEFAULT_BATCH_SIZE = 5
export const DEFAULT_VISIBILITY_TIMEOUT_MS = 30_000

const toBase64 = (bytes: Uint8Array) => {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary)
}
const toBase64Url = (text: string) => toBase64(new TextEncoder().encode(text)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
const fromBase64Url = (text: string) => new TextDecoder().decode(Uint8Array.from(atob(text.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0)))

/** The body as the pull API returns it: JSON and bytes base64-encoded (RFC 4648), text as is. */
export function encodeBody(body: unknown, contentType: ContentType): string {
  if (contentType === 'text') return String(body)
  if (contentType === 'bytes') return toBase64(body instanceof Uint8Array ? body : new Uint8Array(body as ArrayBuffer))
  return toBase64(new TextEncoder().encode(JSON.stringify(body)))
}

/** A fresh lease for one delivery of `messageId`: `<base64url {"m": id}>.<random>`. */
export function newLeaseId(messageId: string): string {
  return `${toBase64Url(JSON.stringify({ m: messageId }))}.${crypto.randomUUID().replaceAll('-', '')}`
}

export function messageIdOfLease(leaseId: string): string | null {
  try {
    const decoded: unknown = JSON.parse(fromBase64Url(leaseId.split('.')[0] ?? ''))
    return decoded && typeof decoded === 'object' && 'm' in decoded && typeof decoded.m === 'string' ? decoded.m : null
  } catch {
    return null
  }
}

export function pullOptions(request: PullRequest): { batchSize: number; visibilityTimeoutMs: number } {
  return {
    batchSize: request.batch_size ?? DEFAULT_BATCH_SIZE,
    visibilityTimeoutMs: request.visibility_timeout_ms ?? request.visibility_timeout ?? DEFAULT_VISIBILITY_TIMEOUT_MS,
  }
}

export function toWireMessage(message: StoredMessage, leaseId: string): WireMessage {
  return {
    id: message.id,
    body: message.body,
    timestamp_ms: message.timestampMs,
    attempts: message.attempts,
    lease_id: leaseId,
    metadata: { 'CF-sourceMessageSource': 'worker', 'CF-Content-Type': message.contentType },
  }
}
