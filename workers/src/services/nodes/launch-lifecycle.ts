// The node lifecycle as one pure transition table. Every writer (admin API, runner reports, node registration,
// health promotion) asks it first, so a late or redelivered event can never move a node backwards — e.g. a
// launch report arriving after a terminate request, or a redelivered terminate after a relaunch.
import type { NodeStatus, RunnerStatus } from '../../schemas/node-ops.ts'

export type LifecycleEvent =
  | { type: 'runner'; status: RunnerStatus }
  | { type: 'registered' }
  | { type: 'healthy' }
  | { type: 'terminate_requested' }
  | { type: 'relaunch_requested' }

const RUNNER_FROM: Record<RunnerStatus, readonly NodeStatus[]> = {
  // The runner picked the message up (or retries after waiting for capacity).
  launching: ['queued', 'launching'],
  // No capacity: the message goes back to the queue with a delay.
  queued: ['queued', 'launching'],
  // A launch that cannot succeed; a node that registered already is past the runner's reach.
  failed: ['queued', 'launching'],
  terminating: ['draining', 'terminating'],
  terminated: ['draining', 'terminating'],
}

/** The status after `event`, or null when the event does not apply to a node in `current` (ignored). */
export function nextStatus(current: string, event: LifecycleEvent): NodeStatus | null {
  switch (event.type) {
    case 'runner':
      return (RUNNER_FROM[event.status] as readonly string[]).includes(current) ? event.status : null
    case 'registered':
      // A node may register again (e.g. its curl retried after a lost answer): it is probed again.
      return ['queued', 'launching', 'warming', 'ready'].includes(current) ? 'warming' : null
    case 'healthy':
      return current === 'warming' ? 'ready' : null
    case 'terminate_requested':
      return current === 'terminated' ? null : 'draining'
    case 'relaunch_requested':
      return current === 'failed' || current === 'terminated' ? 'queued' : null
  }
}
