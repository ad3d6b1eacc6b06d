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
  // A failed launched node is torn down as well (deadline passed, or lost to preemption): no A100 may linger.
  terminating: ['draining', 'terminating', 'failed'],
  terminated: ['draining', 'terminating', 'failed'],
}

/** The status after `event`, or null when the event does not apply to a node in `current` (ignored). */
export function nextStatus(current: string, event: LifecycleEvent): NodeStatus | null {
  switch (event.type) {
    case 'runner':
      return (RUNNER_FROM[event.status] as readonly string[]).includes(current) ? event.status : null
    case 'registered':
      // Once per launch attempt, while it runs: a repeat from warming/ready (a retried curl) is answered by the
      // registration service without a change, so a second registration can never move the endpoint (not even
      // in a race); and a queued node has no attempt running, so only a previous attempt's token could register it.
      return current === 'launching' ? 'warming' : null
    case 'healthy':
      return current === 'warming' ? 'ready' : null
    case 'terminate_requested':
      return current === 'terminated' ? null : 'draining'
    case 'relaunch_requested':
      return current === 'failed' || current === 'terminated' ? 'queued' : null
  }
}
