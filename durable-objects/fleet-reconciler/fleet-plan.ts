// The reconciler's decisions, pure: given a fleet's desired state, its nodes as D1 has them and what the
// reconciler remembers (placement cursor, consecutive spot capacity failures, nodes already counted), what to do
// now. The FleetReconciler object reads, calls planFleet, and acts; max_nodes is enforced again by the D1
// statement that claims each launch (fleet-store.ts), so a plan made on a stale read cannot exceed it.
import type { FleetPlacement } from '../../workers/src/schemas/fleet.ts'

export type FleetSpec = { minReady: number; maxNodes: number; placements: FleetPlacement[]; fallbackOnDemandAfter: number | null }

export type FleetNode = {
  id: string
  name: string
  status: string
  createdAt: number
  updatedAt: number | null
  lastError: string | null
  placement: number | null
  useSpot: boolean
  /** Launch attempts the runner started (0: the launch message was never taken). */
  attempts: number
}

export type PlanState = {
  placementCursor: number
  spotCapacityFailures: number
  /** Nodes whose failure has been counted (each once), and nodes seen ready (a later failure is a loss, not a launch failure). */
  countedFailures: string[]
  seenReady: string[]
  /** When the reconciler last sent a terminate / re-sent a launch for a node (ms). */
  terminateSentAt: Record<string, number>
  launchSentAt: Record<string, number>
  /** True while launches are held back by max_nodes (audited when it starts, not every tick). */
  blocked: boolean
  onDemand: boolean
}

export const initialPlanState = (): PlanState => ({
  placementCursor: 0,
  spotCapacityFailures: 0,
  countedFailures: [],
  seenReady: [],
  terminateSentAt: {},
  launchSentAt: {},
  blocked: false,
  onDemand: false,
})

export type PlannedAction =
  | { kind: 'launch'; placement: number; useSpot: boolean }
  | { kind: 'resend_launch'; node: FleetNode }
  | { kind: 'terminate_failed'; node: FleetNode }
  | { kind: 'forget'; node: FleetNode }
  | { kind: 'blocked_max_nodes'; wanted: number; live: number }
  | { kind: 'fallback_on_demand'; failures: number }

export type Plan = {
  actions: PlannedAction[]
  next: PlanState
  counts: { ready: number; pending: number; live: number }
  /** Launch-to-ready times of nodes first seen ready now (ms), for the fleet's typical time to ready. */
  readyDurationsMs: number[]
}

export const TIMINGS = {
  /** A failed fleet node's terminate (sky down) is sent after this grace (its monitor sends one first), and re-sent at this interval. */
  terminateResendMs: 10 * 60_000,
  failedGraceMs: 60_000,
  /** A queued node whose launch was never taken by the runner (attempts 0) gets its launch message again. */
  launchResendMs: 5 * 60_000,
  /** Terminated fleet nodes are forgotten (row deleted, audit row kept) after this. */
  forgetAfterMs: 60 * 60_000,
}

const PENDING: ReadonlySet<string> = new Set(['queued', 'launching', 'warming'])
const OUT: ReadonlySet<string> = new Set(['terminated', 'gone'])
// The runner's failure reasons start with the kind (orchestrator-runner/src/skypilot/failures.ts): `no_capacity: …`.
const CAPACITY_FAILURE = /^no_capacity\b/

export function planFleet(fleet: FleetSpec, nodes: FleetNode[], state: PlanState, now: number, timings = TIMINGS): Plan {
  const present = new Set(nodes.map((n) => n.id))
  const next: PlanState = {
    ...state,
    countedFailures: state.countedFailures.filter((id) => present.has(id)),
    seenReady: state.seenReady.filter((id) => present.has(id)),
    terminateSentAt: Object.fromEntries(Object.entries(state.terminateSentAt).filter(([id]) => present.has(id))),
    launchSentAt: Object.fromEntries(Object.entries(state.launchSentAt).filter(([id]) => present.has(id))),
  }
  const placements = Math.max(1, fleet.placements.length)
  const actions: PlannedAction[] = []
  const readyDurationsMs: number[] = []

  for (const node of nodes) {
    if (node.status === 'ready' && !next.seenReady.includes(node.id)) {
      next.seenReady.push(node.id)
      if (node.updatedAt !== null && node.updatedAt >= node.createdAt) readyDurationsMs.push(node.updatedAt - node.createdAt)
      // A node that reached ready ends a run of spot capacity failures; the next replacement tries spot again.
      next.spotCapacityFailures = 0
      next.onDemand = false
    }
    if (node.status === 'failed' && !next.countedFailures.includes(node.id)) {
      next.countedFailures.push(node.id)
      const wasServing = next.seenReady.includes(node.id)
      // A launch that failed moves on to the next placement; a node lost after serving (preemption) does not.
      if (!wasServing && node.placement !== null) next.placementCursor = (node.placement + 1) % placements
      if (!wasServing && node.useSpot && CAPACITY_FAILURE.test(node.lastError ?? '')) next.spotCapacityFailures++
    }
  }
  if (fleet.fallbackOnDemandAfter !== null && !next.onDemand && next.spotCapacityFailures >= fleet.fallbackOnDemandAfter) {
    next.onDemand = true
    actions.push({ kind: 'fallback_on_demand', failures: next.spotCapacityFailures })
  }

  const ready = nodes.filter((n) => n.status === 'ready').length
  const pending = nodes.filter((n) => PENDING.has(n.status)).length
  // Every cluster not yet terminated bills (failed, draining and terminating ones included): max_nodes bounds them.
  const live = nodes.filter((n) => !OUT.has(n.status)).length
  const wanted = Math.max(0, fleet.minReady - ready - pending)
  const launches = Math.min(wanted, Math.max(0, fleet.maxNodes - live))
  const cursor = next.placementCursor % placements
  const placement = fleet.placements[cursor]
  for (let i = 0; i < launches && placement; i++) actions.push({ kind: 'launch', placement: cursor, useSpot: placement.use_spot && !next.onDemand })
  const isBlocked = launches < wanted
  if (isBlocked && !state.blocked) actions.push({ kind: 'blocked_max_nodes', wanted, live })
  next.blocked = isBlocked

  for (const node of nodes) {
    if (node.status === 'failed' && now - (node.updatedAt ?? node.createdAt) >= timings.failedGraceMs) {
      const sent = next.terminateSentAt[node.id]
      if (sent === undefined || now - sent >= timings.terminateResendMs) actions.push({ kind: 'terminate_failed', node })
    }
    if (node.status === 'queued' && node.attempts === 0 && now - node.createdAt >= timings.launchResendMs) {
      const sent = next.launchSentAt[node.id] ?? node.createdAt
      if (now - sent >= timings.launchResendMs) actions.push({ kind: 'resend_launch', node })
    }
    if (node.status === 'terminated' && now - (node.updatedAt ?? node.createdAt) >= timings.forgetAfterMs) actions.push({ kind: 'forget', node })
  }
  return { actions, next, counts: { ready, pending, live }, readyDurationsMs }
}

/** Moving average of the launch-to-ready time (the newest observation weighs 1/4). */
export function nextTypicalReadyMs(previous: number | null, observed: number[]): number | null {
  let value = previous
  for (const ms of observed) value = value === null ? ms : Math.round(value * 0.75 + ms * 0.25)
  return value
}
