// Everything one NodeMonitor knows about its node, as stored (one record) and as returned to the Worker and
// the admin API (NodeSnapshot). Pure helpers only.
import type { TerminateMessage } from '../../workers/src/schemas/node-ops.ts'
import { closedBreaker, DEFAULT_BREAKER_CONFIG, advanceBreaker, type BreakerConfig, type BreakerState } from './breaker-state.ts'
import type { LaunchWatch } from './launch-watch.ts'
import { unknownHealth, type HealthState } from './node-lifecycle.ts'
import type { NodeLoad } from './vllm-metrics.ts'

export type MonitorState = {
  nodeId: string | null
  /** The node's D1 status as the monitor last read or wrote it. */
  status: string | null
  breaker: BreakerState
  breakerConfig: BreakerConfig
  health: HealthState
  /** Last successful metrics scrape (kept when a later one fails; `scrapedAt` shows its age). */
  load: NodeLoad | null
  /**
   * Set once the node must leave once idle: removed from D1 (DELETE /admin/nodes/:id), or, for a node CIC
   * launched, its terminate message sent to orchestrator-runner (`sky down`) when nothing runs on it any more.
   */
  removal: { requestedAt: number; terminate?: TerminateMessage } | null
  isFailedByMonitor: boolean
  /** A launched node's launch attempt in progress, for its deadline (launch-watch.ts). */
  launchWatch?: LaunchWatch | null
  /** A launched node failed (deadline, health): its terminate, kept until the queue took it. */
  pendingTerminate?: TerminateMessage | null
}

export type NodeSnapshot = MonitorState & { at: number }

export const initialMonitorState = (now: number): MonitorState => ({
  nodeId: null,
  status: null,
  breaker: closedBreaker(now),
  breakerConfig: { ...DEFAULT_BREAKER_CONFIG },
  health: unknownHealth(now),
  load: null,
  removal: null,
  isFailedByMonitor: false,
  launchWatch: null,
  pendingTerminate: null,
})

/** The state as of `now` (an open breaker past its cooldown shows as half-open). */
export const snapshotOf = (s: MonitorState, now: number): NodeSnapshot => ({ ...s, breaker: advanceBreaker(s.breaker, now), at: now })

export type BreakerPatch = Partial<Pick<BreakerConfig, 'failureThreshold' | 'cooldownMs' | 'halfOpenProbes'>>
