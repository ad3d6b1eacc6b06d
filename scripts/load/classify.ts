// What a response tells the client about the server: which admission layer refused a 429, and whether the
// request reached a node (README "Usage ledger": exactly one usage event per request that reached a node).
// The codes and messages read here are written by workers/src/services/admission/admit-request.ts and
// workers/src/services/proxy/*: keep the two in step.
import type { Outcome } from './send-request.ts'

/** The layers of `cic_rate_limited_total{layer}` (README "Admission"), plus `unknown` for a 429 we cannot place. */
export type RefusalLayer = 'key_rpm' | 'rpm' | 'tpm' | 'concurrency' | 'budget_in_flight' | 'request_too_large' | 'budget' | 'unknown'

/**
 * A 429's layer from its error code and, for `rate_limit_exceeded` (shared by the rpm, key rpm, tpm and budget
 * hold refusals), from the message admit-request.ts writes for each scope.
 */
export function refusalLayer(code: string | null, message: string | null): RefusalLayer {
  switch (code) {
    case 'concurrency_limit_exceeded':
      return 'concurrency'
    case 'request_too_large':
      return 'request_too_large'
    case 'insufficient_quota':
      return 'budget'
    case 'rate_limit_exceeded': {
      const m = message ?? ''
      if (m.includes('(RPM) on this API key')) return 'key_rpm'
      if (m.includes('(RPM)')) return 'rpm'
      if (m.includes('(TPM)')) return 'tpm'
      if (m.includes('token budget')) return 'budget_in_flight'
      return 'unknown'
    }
    default:
      return 'unknown'
  }
}

/**
 * - `reached`: admitted and a node had it, so exactly one usage event: every 200 (a stream broken after its
 *   headers included), and the gateway's upstream failures.
 * - `refused`: stopped at admission or auth (401, 403, 429): no event, not admitted.
 * - `unrouted`: admitted, but no node took it (no node available): no event.
 * - `unknown`: cannot tell from the client (a 400/404 that may be ours or the node's, a 500, a 502 where no
 *   attempt may have reached a node, a connection error): the ledger may or may not hold it.
 * - `dropped`: never sent (the client's in-flight cap).
 */
export type Disposition = 'reached' | 'refused' | 'unrouted' | 'unknown' | 'dropped'

/** Codes of gateway errors that follow a node's answer or timeout (workers/src/services/proxy/upstream-*.ts). */
const REACHED_CODES = new Set([
  'upstream_error',
  'upstream_overloaded',
  'upstream_timeout',
  'upstream_connect_timeout',
  'upstream_connection_lost',
  'upstream_auth_failed',
  'upstream_stream_broken',
  'upstream_stream_error',
  'upstream_idle_timeout',
])

export function disposition(o: Outcome): Disposition {
  if (o.sentAt === null) return 'dropped'
  if (o.status === 200) return 'reached'
  if (o.status === 401 || o.status === 403 || o.status === 429) return 'refused'
  if (o.status === 503 && o.errorCode === 'no_available_node') return 'unrouted'
  if (o.status !== null && o.errorCode !== null && REACHED_CODES.has(o.errorCode)) return 'reached'
  return 'unknown'
}

/** Certainly passed admission (the limits check counts only these). */
export const isAdmitted = (d: Disposition) => d === 'reached' || d === 'unrouted'
