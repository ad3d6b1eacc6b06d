// What the NodeMonitor does with a node CIC launched (it has a node_launches row) before its usual health
// check: a launch attempt that stays launching/warming past its deadline is failed, and a failed launched
// node gets its cluster torn down (terminate) instead of being revived, so no A100 runs unseen. Pure; the
// NodeMonitor applies the decision. Manually registered nodes never come here.

/** When this monitor first saw the launch attempt in progress (the runner counts attempts in node_launches). */
export type LaunchWatch = { attempt: number; since: number }

export type LaunchWatchInput = {
  status: string
  /** node_launches.attempts: a new attempt (capacity retry, relaunch) restarts the deadline. */
  attempt: number
  watch: LaunchWatch | null
  hasPendingTerminate: boolean
  now: number
}

export type LaunchStep =
  /** Not registered in this attempt yet (queued/launching): nothing to probe, check again later. */
  | { kind: 'wait' }
  /** Registered (warming) within its deadline, or past the launch (ready, draining): the usual health check. */
  | { kind: 'probe' }
  | { kind: 'fail'; from: string; reason: string }
  /** Failed, its terminate not sent yet (an earlier send failed): send it. */
  | { kind: 'terminate' }
  /** Failed and torn down (or the runner failed it): nothing to watch until a relaunch restarts the monitor. */
  | { kind: 'stop' }

export function watchLaunch(input: LaunchWatchInput, timeoutMs: number): { step: LaunchStep; watch: LaunchWatch | null } {
  const { status, attempt, now } = input
  if (status === 'failed') return { step: { kind: input.hasPendingTerminate ? 'terminate' : 'stop' }, watch: null }
  if (status === 'queued') return { step: { kind: 'wait' }, watch: null }
  if (status !== 'launching' && status !== 'warming') return { step: { kind: 'probe' }, watch: null }
  const watch = input.watch?.attempt === attempt ? input.watch : { attempt, since: now }
  if (now - watch.since >= timeoutMs) {
    const minutes = Math.round((now - watch.since) / 60_000)
    const reason = `launch deadline passed: still ${status} after ${minutes} min (NODE_LAUNCH_TIMEOUT_MS=${timeoutMs})`
    return { step: { kind: 'fail', from: status, reason }, watch }
  }
  return { step: { kind: status === 'launching' ? 'wait' : 'probe' }, watch }
}
