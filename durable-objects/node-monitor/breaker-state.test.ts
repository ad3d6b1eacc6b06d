import { describe, expect, it } from 'vitest'
import {
  breakerVerdict,
  closedBreaker,
  DEFAULT_BREAKER_CONFIG,
  grantProbe,
  recordOutcome,
  releaseProbe,
  secondsUntilRetry,
  advanceBreaker,
  type BreakerConfig,
  type BreakerState,
  type Outcome,
} from './breaker-state.ts'

const config: BreakerConfig = { ...DEFAULT_BREAKER_CONFIG }
const T0 = 1_000_000
const fail: Outcome = { ok: false, isProbe: false, error: 'HTTP 500' }
const ok: Outcome = { ok: true, isProbe: false }

function failTimes(s: BreakerState, n: number, now = T0, c = config): BreakerState {
  for (let i = 0; i < n; i++) s = recordOutcome(s, c, fail, now)
  return s
}

describe('closed breaker', () => {
  it('stays closed and admitting through four consecutive failures, opens on the fifth', () => {
    const four = failTimes(closedBreaker(T0), 4)
    expect(four).toMatchObject({ phase: 'closed', consecutiveFailures: 4, lastError: 'HTTP 500' })
    expect(breakerVerdict(four, config, T0)).toBe('allow')
    const five = recordOutcome(four, config, fail, T0 + 10)
    expect(five).toMatchObject({ phase: 'open', since: T0 + 10, retryAt: T0 + 10 + 30_000 })
    expect(breakerVerdict(five, config, T0 + 10)).toBe('deny')
  })

  it('counts only consecutive failures: a success in between resets the count', () => {
    const s = recordOutcome(failTimes(closedBreaker(T0), 4), config, ok, T0)
    expect(s.consecutiveFailures).toBe(0)
    expect(failTimes(s, 4).phase).toBe('closed')
  })

  it('returns the same object for a success that changes nothing (the caller can skip a write)', () => {
    const s = closedBreaker(T0)
    expect(recordOutcome(s, config, ok, T0 + 5)).toBe(s)
  })

  it('honours a per-node threshold and cooldown', () => {
    const custom = { ...config, failureThreshold: 2, cooldownMs: 500 }
    const s = failTimes(closedBreaker(T0), 2, T0, custom)
    expect(s).toMatchObject({ phase: 'open', retryAt: T0 + 500 })
  })
})

describe('open breaker', () => {
  const opened = failTimes(closedBreaker(T0), 5)

  it('refuses everything until the cooldown is over', () => {
    expect(breakerVerdict(opened, config, T0 + 29_999)).toBe('deny')
    expect(grantProbe(opened, config, T0 + 29_999).granted).toBe(false)
    expect(secondsUntilRetry(opened, T0 + 29_001)).toBe(1)
    expect(secondsUntilRetry(opened, T0)).toBe(30)
  })

  it('ignores outcomes of requests that were in flight when it opened, except for the last error', () => {
    const late = recordOutcome(opened, config, ok, T0 + 100)
    expect(late).toMatchObject({ phase: 'open', retryAt: T0 + 30_000 })
    const lateFail = recordOutcome(opened, config, { ok: false, isProbe: false, error: 'reset' }, T0 + 200)
    expect(lateFail).toMatchObject({ phase: 'open', retryAt: T0 + 30_000, lastError: 'reset', lastErrorAt: T0 + 200 })
  })

  it('becomes half-open when the cooldown is over, since the moment it ended', () => {
    expect(advanceBreaker(opened, T0 + 45_000)).toMatchObject({ phase: 'half_open', since: T0 + 30_000, retryAt: null })
    expect(breakerVerdict(opened, config, T0 + 30_000)).toBe('probe')
    expect(secondsUntilRetry(opened, T0 + 30_000)).toBeNull()
  })
})

describe('half-open breaker', () => {
  const due = T0 + 30_000
  const opened = failTimes(closedBreaker(T0), 5)

  it('grants only the configured number of probes at once', () => {
    const first = grantProbe(opened, config, due)
    expect(first.granted).toBe(true)
    expect(first.next.phase).toBe('half_open')
    expect(grantProbe(first.next, config, due + 1).granted).toBe(false)
    const two = { ...config, halfOpenProbes: 2 }
    const a = grantProbe(opened, two, due)
    expect(grantProbe(a.next, two, due).granted).toBe(true)
  })

  it('closes when a probe succeeds', () => {
    const { next } = grantProbe(opened, config, due)
    const closed = recordOutcome(next, config, { ok: true, isProbe: true }, due + 50)
    expect(closed).toMatchObject({ phase: 'closed', since: due + 50, consecutiveFailures: 0, probeLeases: [] })
    expect(closed.lastError).toBe('HTTP 500') // kept for the admin view
  })

  it('re-opens for another full cooldown when a probe fails', () => {
    const { next } = grantProbe(opened, config, due)
    const reopened = recordOutcome(next, config, { ok: false, isProbe: true, error: 'still down' }, due + 50)
    expect(reopened).toMatchObject({ phase: 'open', since: due + 50, retryAt: due + 50 + 30_000, probeLeases: [], lastError: 'still down' })
  })

  it('re-opens on a failure of a request that was not a probe', () => {
    const half = advanceBreaker(opened, due)
    expect(recordOutcome(half, config, fail, due + 1).phase).toBe('open')
  })

  it('does not close on a non-probe success, and frees no probe slot for it', () => {
    const { next } = grantProbe(opened, config, due)
    const after = recordOutcome(next, config, ok, due + 1)
    expect(after).toMatchObject({ phase: 'half_open', probeLeases: next.probeLeases })
  })

  it('frees the slot of a probe whose client went away, without closing or re-opening', () => {
    const { next } = grantProbe(opened, config, due)
    const released = releaseProbe(next)
    expect(released).toMatchObject({ phase: 'half_open', probeLeases: [] })
    expect(grantProbe(released, config, due + 1).granted).toBe(true)
    expect(releaseProbe(opened)).toBe(opened)
  })

  it('lets another probe through once a granted one was never answered within its lease', () => {
    const { next } = grantProbe(opened, config, due)
    expect(grantProbe(next, config, due + config.probeLeaseMs - 1).granted).toBe(false)
    expect(grantProbe(next, config, due + config.probeLeaseMs).granted).toBe(true)
  })
})
