// What one health check means for a node: its health record, and whether its lifecycle status in D1
// (`nodes.status`) should move. Pure; the NodeMonitor applies the decision with a compare-and-set write.
//
// Statuses: queued → launching → warming (registered, not yet healthy) → ready ⇄ failed (dead to health
// checks; back to ready once it answers again) → draining (no new requests) → gone (removed), and
// terminating / terminated, which the launcher owns.
import type { NodeLoad, NodeTokenCounters } from './vllm-metrics.ts'

export type HealthState = {
  state: 'unknown' | 'healthy' | 'unhealthy'
  /** When `state` last changed. */
  since: number
  consecutiveFailures: number
  lastCheckAt: number | null
  lastOkAt: number | null
  lastError: string | null
  lastErrorAt: number | null
}

export type HealthCheck = { ok: true; load: NodeLoad | null; counters?: NodeTokenCounters | null } | { ok: false; error: string }

export type LifecycleConfig = {
  /** Consecutive failed checks after which a ready node is marked failed. */
  unhealthyAfter: number
  /** A node being removed drains at least this long, so that every isolate's cached node list has dropped it. */
  drainMinMs: number
  /** A node being removed is removed after this long even if it never reports being idle. */
  drainTimeoutMs: number
}

export const unknownHealth = (now: number): HealthState => ({
  state: 'unknown',
  since: now,
  consecutiveFailures: 0,
  lastCheckAt: null,
  lastOkAt: null,
  lastError: null,
  lastErrorAt: null,
})

export function applyCheck(h: HealthState, check: HealthCheck, now: number, unhealthyAfter: number): HealthState {
  if (check.ok) {
    return { ...h, state: 'healthy', since: h.state === 'healthy' ? h.since : now, consecutiveFailures: 0, lastCheckAt: now, lastOkAt: now }
  }
  const failures = h.consecutiveFailures + 1
  const state = failures >= unhealthyAfter ? 'unhealthy' : h.state
  return { ...h, state, since: state === h.state ? h.since : now, consecutiveFailures: failures, lastCheckAt: now, lastError: check.error, lastErrorAt: now }
}

/** Statuses in which nobody routes to the node and nothing will bring it back: monitoring stops. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(['terminating', 'terminated', 'gone'])

export type LifecycleInput = {
  /** The node's status in D1 right before the check. */
  status: string
  check: HealthCheck
  /** Health after applying `check`. */
  health: HealthState
  /** Set once removal (DELETE /admin/nodes/:id) or termination (a launched node) was asked for. */
  removal: { requestedAt: number } | null
  /** Whether the monitor itself marked the node failed (it only revives nodes it failed). */
  isFailedByMonitor: boolean
  now: number
}

export type LifecycleStep =
  | { kind: 'stay' }
  | { kind: 'stop' }
  | { kind: 'set_status'; from: string; to: 'ready' | 'failed'; reason: string }
  | { kind: 'remove'; reason: string }

export function nextLifecycle(input: LifecycleInput, config: LifecycleConfig): LifecycleStep {
  const { status, check, health } = input
  if (FINAL_STATUSES.has(status)) return { kind: 'stop' }
  if (status === 'draining') return input.removal ? removalStep(input, config) : { kind: 'stay' }
  if (check.ok && (status === 'launching' || status === 'warming')) return { kind: 'set_status', from: status, to: 'ready', reason: 'health check passed' }
  if (check.ok && status === 'failed' && input.isFailedByMonitor) return { kind: 'set_status', from: status, to: 'ready', reason: 'health check passed again' }
  if (!check.ok && status === 'ready' && health.consecutiveFailures >= config.unhealthyAfter) {
    return { kind: 'set_status', from: status, to: 'failed', reason: `${health.consecutiveFailures} consecutive health checks failed: ${check.error}` }
  }
  return { kind: 'stay' }
}

function removalStep(input: LifecycleInput, config: LifecycleConfig): LifecycleStep {
  const { check, removal, now } = input
  if (!removal) return { kind: 'stay' }
  const elapsed = now - removal.requestedAt
  if (elapsed < config.drainMinMs) return { kind: 'stay' }
  if (!check.ok) return { kind: 'remove', reason: `unreachable while draining (${check.error}): nothing left to wait for` }
  if (check.load && check.load.running + check.load.waiting === 0) return { kind: 'remove', reason: 'drained: no request running or waiting' }
  if (elapsed >= config.drainTimeoutMs) return { kind: 'remove', reason: 'drain timeout reached' }
  return { kind: 'stay' }
}
