// The circuit breaker of one node, as pure transitions over a plain state with the time passed in. The
// NodeMonitor object owns the authoritative copy; the Worker applies the same transitions to its cached copy
// so that a failure it sees takes effect in that isolate at once.

export type BreakerConfig = {
  /** Consecutive failures (connect error, timeout, 5xx, broken stream) that open the breaker. */
  failureThreshold: number
  /** How long an open breaker refuses traffic before letting probes through. */
  cooldownMs: number
  /** Probe requests let through at the same time while half-open. */
  halfOpenProbes: number
  /** A granted probe whose outcome never arrives (its Worker died) stops counting after this long. */
  probeLeaseMs: number
}

export const DEFAULT_BREAKER_CONFIG: Readonly<BreakerConfig> = {
  failureThreshold: 5,
  cooldownMs: 30_000,
  halfOpenProbes: 1,
  probeLeaseMs: 120_000,
}

export type BreakerPhase = 'closed' | 'open' | 'half_open'

export type BreakerState = {
  phase: BreakerPhase
  /** When the breaker entered `phase` (ms since epoch). */
  since: number
  consecutiveFailures: number
  /** Open only: when probes may start. */
  retryAt: number | null
  /** Half-open only: expiry times of the probes granted and not yet answered. */
  probeLeases: number[]
  lastError: string | null
  lastErrorAt: number | null
}

/** What the breaker allows for the next request: send it, send it only as a granted probe, or not at all. */
export type BreakerVerdict = 'allow' | 'probe' | 'deny'

export type Outcome = { ok: true; isProbe: boolean } | { ok: false; isProbe: boolean; error: string }

export const closedBreaker = (now: number): BreakerState => ({
  phase: 'closed',
  since: now,
  consecutiveFailures: 0,
  retryAt: null,
  probeLeases: [],
  lastError: null,
  lastErrorAt: null,
})

/** Applies the passage of time: an open breaker whose cooldown is over becomes half-open; stale leases lapse. */
export function advanceBreaker(s: BreakerState, now: number): BreakerState {
  if (s.phase === 'open' && s.retryAt !== null && now >= s.retryAt) {
    return { ...s, phase: 'half_open', since: s.retryAt, retryAt: null, probeLeases: [] }
  }
  if (s.phase === 'half_open' && s.probeLeases.some((expiry) => expiry <= now)) {
    return { ...s, probeLeases: s.probeLeases.filter((expiry) => expiry > now) }
  }
  return s
}

export function breakerVerdict(s: BreakerState, config: BreakerConfig, now: number): BreakerVerdict {
  const current = advanceBreaker(s, now)
  switch (current.phase) {
    case 'closed':
      return current.consecutiveFailures < config.failureThreshold ? 'allow' : 'deny'
    case 'open':
      return 'deny'
    case 'half_open':
      return current.probeLeases.length < config.halfOpenProbes ? 'probe' : 'deny'
  }
}

/** Grants one probe if the breaker is half-open (or due to be) and has a free slot. */
export function grantProbe(s: BreakerState, config: BreakerConfig, now: number): { granted: boolean; next: BreakerState } {
  const current = advanceBreaker(s, now)
  if (breakerVerdict(current, config, now) !== 'probe') return { granted: false, next: current }
  return { granted: true, next: { ...current, probeLeases: [...current.probeLeases, now + config.probeLeaseMs] } }
}

const open = (s: BreakerState, config: BreakerConfig, now: number): BreakerState => ({
  ...s,
  phase: 'open',
  since: now,
  retryAt: now + config.cooldownMs,
  probeLeases: [],
})

/**
 * Folds one request's outcome in. Closed: failures count up to the threshold, a success resets the count.
 * Half-open: a probe's success closes; any failure re-opens for another cooldown. Open: outcomes of requests
 * that were already in flight when it opened change nothing but the last error.
 */
export function recordOutcome(s: BreakerState, config: BreakerConfig, outcome: Outcome, now: number): BreakerState {
  const current = advanceBreaker(s, now)
  const errored = outcome.ok ? current : { ...current, lastError: outcome.error, lastErrorAt: now }
  switch (current.phase) {
    case 'closed': {
      if (outcome.ok) return current.consecutiveFailures === 0 ? current : { ...current, consecutiveFailures: 0 }
      const failures = current.consecutiveFailures + 1
      const counted = { ...errored, consecutiveFailures: failures }
      return failures >= config.failureThreshold ? open(counted, config, now) : counted
    }
    case 'half_open': {
      const released = outcome.isProbe ? { ...errored, probeLeases: errored.probeLeases.slice(1) } : errored
      if (!outcome.ok) return open({ ...released, consecutiveFailures: released.consecutiveFailures + 1 }, config, now)
      return outcome.isProbe ? { ...closedBreaker(now), lastError: current.lastError, lastErrorAt: current.lastErrorAt } : released
    }
    case 'open':
      return errored
  }
}

/** A granted probe that will never report (its client went away before the node answered): free its slot now. */
export function releaseProbe(s: BreakerState): BreakerState {
  return s.phase === 'half_open' && s.probeLeases.length > 0 ? { ...s, probeLeases: s.probeLeases.slice(1) } : s
}

/** Seconds until some probe may be let through (for Retry-After), or null when not open. */
export function secondsUntilRetry(s: BreakerState, now: number): number | null {
  const current = advanceBreaker(s, now)
  if (current.phase !== 'open' || current.retryAt === null) return null
  return Math.max(1, Math.ceil((current.retryAt - now) / 1000))
}
