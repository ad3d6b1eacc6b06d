// Bounds failed API-key authentications per client, so a flood of bad keys is not a flood of D1 reads. Called by
// middleware/api-key-auth.ts only when a key is refused, and before any D1 lookup; nothing here runs for a good key.
//
// What is counted: requests whose key is malformed, fails its check, or is unknown to D1 (not a missing header, not
// a revoked key: that one is a known key refused by the TenantGate). The client is `cf-connecting-ip`, which
// Cloudflare sets on every request (overwriting one the client sent); an IPv6 address counts as its /64, which one
// subscriber usually holds whole. Locally (wrangler dev, tests) the header is absent and nothing is counted: every
// caller would be one client, and one test file's bad keys would throttle another's (tests that check the bound send
// the header). A production-like request without it (never seen behind Cloudflare) counts as the client `unknown`.
//
// Two layers, neither touching D1:
// - the Workers Rate Limiting binding AUTH_FAILURES (wrangler.toml `[[ratelimits]]`), `limit()` once per failure:
//   counts per Cloudflare location, approximately, in windows of AUTH_FAILURE_PERIOD_SECONDS; it answers a boolean
//   and no reset time (developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit: "period … must be either
//   10 or 60", limit is "within a given period in a single Cloudflare location"). It cannot be asked without counting,
//   so successes never call it;
// - once it refuses a client, this isolate remembers the client as blocked for a whole period: its later requests
//   are answered 429 before the key is even looked up (a key already in this isolate's cache still works: that
//   costs no D1 read, and spares clients sharing an address with an attacker).
// Another isolate learns of the block on its own first failure from the client, so across isolates a blocked client
// may still cost about one legacy-format lookup per isolate per period.
import { log } from '../../log.ts'

/** `simple` of AUTH_FAILURES in wrangler.toml, every env (scripts/deploy/wrangler-config.test.ts checks): a client's
 * refused keys allowed per period (10 or 60 s) before it is answered 429. */
export const AUTH_FAILURE_LIMIT = 30
export const AUTH_FAILURE_PERIOD_SECONDS = 60
const MAX_BLOCKED = 10_000
/** The part of the Workers `RateLimit` binding used here (a structural type: scripts' Node tests import this file). */
export type FailureLimiter = { limit(options: { key: string }): Promise<{ success: boolean }> }
const blockedUntil = new Map<string, number>()

/** The client a failure is counted against (see the header), or null when failures are not counted. */
export function authClient(headers: Headers, isProductionLike: boolean): string | null {
  const ip = headers.get('cf-connecting-ip')?.trim()
  if (!ip) return isProductionLike ? 'unknown' : null
  return ip.includes(':') && !ip.includes('.') ? `${ipv6Prefix64(ip)}::/64` : ip
}

/** Seconds until this isolate lets `client` try again, or null when it is not blocked here. */
export function blockedFor(client: string, now = Date.now()): number | null {
  const until = blockedUntil.get(client)
  if (until === undefined) return null
  if (until <= now) {
    blockedUntil.delete(client)
    return null
  }
  return Math.max(1, Math.ceil((until - now) / 1000))
}

/**
 * Counts one failed authentication of `client`; returns the Retry-After seconds when it is one too many (the client
 * is then blocked in this isolate), else null. A failing binding never fails the request: the failure goes uncounted.
 */
export async function countAuthFailure(limiter: FailureLimiter, client: string, now = Date.now()): Promise<number | null> {
  const already = blockedFor(client, now)
  if (already !== null) return already
  let allowed = true
  try {
    allowed = (await limiter.limit({ key: client })).success
  } catch (err) {
    log.warn('auth_failure_limiter_failed', { error: String(err) })
  }
  if (allowed) return null
  if (blockedUntil.size >= MAX_BLOCKED) blockedUntil.delete(blockedUntil.keys().next().value as string)
  blockedUntil.set(client, now + AUTH_FAILURE_PERIOD_SECONDS * 1000)
  return AUTH_FAILURE_PERIOD_SECONDS
}

/** The first four hextets of an IPv6 address, `::` expanded (a malformed address is kept whole: still one client). */
function ipv6Prefix64(ip: string): string {
  const [head = '', tail] = ip.toLowerCase().split('::')
  const left = head ? head.split(':') : []
  const right = tail === undefined ? [] : tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  if (groups.length < 4) return ip
  return groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')
}
