// OpenAI's rate-limit response headers from the admission object's view of the tenant, on admitted and
// refused responses alike. A dimension without a limit sends no headers (there is no way to say "unlimited").
import type { RateSnapshot } from '../../../../durable-objects/tenant-gate/contract.ts'

/** Durations as OpenAI writes them (Go's time.Duration format): "12ms", "1s", "17.172s", "6m0s", "1h2m3.5s". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms))
  if (total < 1000) return `${total}ms`
  const hours = Math.floor(total / 3_600_000)
  const minutes = Math.floor((total % 3_600_000) / 60_000)
  const seconds = `${Number(((total % 60_000) / 1000).toFixed(3))}s`
  if (hours > 0) return `${hours}h${minutes}m${seconds}`
  return minutes > 0 ? `${minutes}m${seconds}` : seconds
}

export function rateLimitHeaders(rate: RateSnapshot): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, meter] of [
    ['requests', rate.requests],
    ['tokens', rate.tokens],
  ] as const) {
    if (!meter) continue
    headers[`x-ratelimit-limit-${name}`] = String(meter.limit)
    headers[`x-ratelimit-remaining-${name}`] = String(meter.remaining)
    headers[`x-ratelimit-reset-${name}`] = formatDuration(meter.resetMs)
  }
  return headers
}

/** `retry-after` in whole seconds (rounded up, at least 1) and `retry-after-ms`, which the openai SDKs prefer. */
export function retryAfterHeaders(retryAfterMs: number): Record<string, string> {
  const ms = Math.max(1, Math.ceil(retryAfterMs))
  return { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(ms) }
}
