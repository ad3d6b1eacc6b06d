// Terminate job: `sky down` the node's cluster once the control plane confirms the node is being terminated
// (a terminate redelivered after a relaunch must not tear the new node down). sky down is idempotent, so a
// redelivery after success is harmless. A failed down is retried with backoff until it works: a leaked A100
// costs money every hour, so the message stays in the queue (and in its dead-letter queue if retries run out).
// Then the node's private path (tunnel, DNS record, Access app) is removed, also retried until it is gone: the node
// is reported terminated only when nothing it had is left.
import type { TerminateMessage } from '../../../workers/src/schemas/node-ops.ts'
import { tailOf } from '../skypilot/failures.ts'
import { ACK, backoffSeconds, retryIn, type JobDeps, type JobOutcome } from './job.ts'

export async function runTerminate(message: TerminateMessage, attempt: number, deps: JobDeps): Promise<JobOutcome> {
  const { sky, controlPlane, log, signal } = deps
  const cluster = message.cluster_name
  const started = await controlPlane.reportStatus(cluster, { status: 'terminating' })
  if (started.found && !started.applied) {
    log.info('terminate_not_wanted', { cluster, status: started.status })
    return ACK
  }
  // An unknown node (its row was removed) still gets its cluster torn down: nothing should run for it.
  const result = await sky.down(cluster, signal)
  if (result.exitCode === 0 || result.absent) {
    log.info('sky_down_succeeded', { cluster, absent: result.absent })
    try {
      await deps.nodePath.remove(cluster)
    } catch (err) {
      const reason = `node_path cleanup failed: ${err instanceof Error ? err.message : String(err)}`
      log.error('node_path_cleanup_failed', { cluster, attempt, reason })
      if (started.found)
        await controlPlane.reportStatus(cluster, { status: 'terminating', error: `${reason} (attempt ${attempt}, retrying)`, node_path_failure: 'cleanup' })
      return retryIn(backoffSeconds(attempt, 30, Math.min(600, deps.retryMaxSeconds)))
    }
    if (started.found) await controlPlane.reportStatus(cluster, { status: 'terminated' })
    return ACK
  }
  if (result.aborted) return retryIn(0)
  const reason = `sky down failed${result.timedOut ? ' (timeout)' : ''}: ${tailOf(result)}`
  log.error('sky_down_failed', { cluster, attempt, reason })
  if (started.found) await controlPlane.reportStatus(cluster, { status: 'terminating', error: `${reason} (attempt ${attempt}, retrying)` })
  return retryIn(backoffSeconds(attempt, 30, Math.min(600, deps.retryMaxSeconds)))
}
