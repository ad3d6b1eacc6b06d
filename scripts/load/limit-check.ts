// Did admission ever let through more than a limit allows? From the client's own records: no rolling 60 s
// window held more admissions than a tenant's rpm (or a key's key_rpm); and, from the tenant's admission
// object sampled during the run, never more requests in flight than its concurrency.
//
// The client does not see when the server admitted a request, only that it happened after the request left
// (sentAt) and before its response headers came back (headersAt): admission is one RPC before the node is
// called, and the headers carry its x-ratelimit-*. So each admission is an interval, and a window counts as
// overfull only when the admissions in it CERTAINLY fell within one 60 s span (latest headersAt minus earliest
// sentAt under 60 s). That never blames the server for the client's own delays (a busy event loop widens the
// intervals, which can only hide an overshoot, not invent one); the overshoots it can miss are those hidden
// inside the request's own round trip, a few ms locally.

export const WINDOW_MS = 60_000

/** When an admission happened, as the client knows it: somewhere in [from, to]. */
export type AdmissionInterval = { from: number; to: number }

/**
 * The largest number of admissions that certainly fell within one span shorter than `windowMs`. Exact: any
 * such set, with i its earliest `from`, lies within {j : from_j >= from_i, to_j < from_i + windowMs}.
 */
export function maxCertainInWindow(intervals: readonly AdmissionInterval[], windowMs = WINDOW_MS): number {
  const sorted = [...intervals].sort((a, b) => a.from - b.from)
  let best = 0
  for (let i = 0; i < sorted.length; i++) {
    const bound = sorted[i]!.from + windowMs
    let count = 0
    for (let j = i; j < sorted.length && sorted[j]!.from < bound; j++) if (sorted[j]!.to < bound) count++
    best = Math.max(best, count)
  }
  return best
}

export type AdmittedRequest = AdmissionInterval & { tenant: number; key: number }
export type TenantLimits = { rpm: number; keyRpm: number; concurrency: number }
export type LimitFinding = {
  tenant: number
  limit: 'rpm' | 'key_rpm' | 'concurrency'
  key?: number
  allowed: number
  /** Most admissions certainly within one window (rpm, key_rpm), or most in flight seen (concurrency). */
  observed: number
  ok: boolean
}

/** rpm and key_rpm of every tenant with such a limit (0 = unlimited: not checked). */
export function checkRateLimits(admitted: readonly AdmittedRequest[], limits: readonly TenantLimits[]): LimitFinding[] {
  const findings: LimitFinding[] = []
  for (const [tenant, l] of limits.entries()) {
    const mine = admitted.filter((a) => a.tenant === tenant)
    if (l.rpm > 0) {
      const observed = maxCertainInWindow(mine)
      findings.push({ tenant, limit: 'rpm', allowed: l.rpm, observed, ok: observed <= l.rpm })
    }
    if (l.keyRpm > 0) {
      for (const key of [...new Set(mine.map((a) => a.key))].sort((a, b) => a - b)) {
        const observed = maxCertainInWindow(mine.filter((a) => a.key === key))
        findings.push({ tenant, limit: 'key_rpm', key, allowed: l.keyRpm, observed, ok: observed <= l.keyRpm })
      }
    }
  }
  return findings
}

/** Concurrency as the admission object itself reports it (its leases in flight), sampled during the run. */
export function checkConcurrency(maxInFlightSeen: readonly number[], limits: readonly TenantLimits[]): LimitFinding[] {
  return limits.flatMap((l, tenant) =>
    l.concurrency > 0
      ? [
          {
            tenant,
            limit: 'concurrency' as const,
            allowed: l.concurrency,
            observed: maxInFlightSeen[tenant] ?? 0,
            ok: (maxInFlightSeen[tenant] ?? 0) <= l.concurrency,
          },
        ]
      : [],
  )
}
