// Turns one pulled queue message into a job outcome: parses it with the contract shared with the Worker, keeps
// one job per cluster at a time in this process, and maps surprises to a retry so no message is lost.
import { nodeOpMessageSchema } from '../../../workers/src/schemas/node-ops.ts'
import { TransientError } from '../control-plane/client.ts'
import type { PulledMessage } from '../queue/pull-client.ts'
import { SkyCommandError } from '../skypilot/cli.ts'
import { ACK, retryIn, type JobDeps, type JobOutcome } from './job.ts'
import { runLaunch } from './launch.ts'
import { runTerminate } from './terminate.ts'

/** Seconds before a message for a cluster that is busy in this process comes back. */
const BUSY_RETRY_SECONDS = 60
const TRANSIENT_RETRY_SECONDS = 30

export function createDispatcher(deps: JobDeps) {
  const busy = new Set<string>()

  return async function dispatch(pulled: PulledMessage): Promise<JobOutcome> {
    const parsed = pulled.decodeError ? null : nodeOpMessageSchema.safeParse(pulled.body)
    if (!parsed?.success) {
      // Can never succeed: drop it loudly rather than let it cycle through every retry.
      deps.log.error('node_op_message_invalid', { messageId: pulled.id, error: pulled.decodeError ?? parsed?.error.message, body: pulled.body })
      return ACK
    }
    const message = parsed.data
    const cluster = message.cluster_name
    if (busy.has(cluster)) {
      // e.g. a terminate while this runner still launches the cluster: it runs once the launch is over.
      deps.log.info('cluster_busy_retry_later', { cluster, op: message.op, messageId: pulled.id })
      return retryIn(BUSY_RETRY_SECONDS)
    }
    busy.add(cluster)
    try {
      return message.op === 'launch' ? await runLaunch(message, pulled.attempts, deps) : await runTerminate(message, pulled.attempts, deps)
    } catch (err) {
      const isExpected = err instanceof TransientError || err instanceof SkyCommandError
      deps.log[isExpected ? 'warn' : 'error']('node_op_job_error', { cluster, op: message.op, messageId: pulled.id, error: String(err) })
      return retryIn(isExpected ? TRANSIENT_RETRY_SECONDS : BUSY_RETRY_SECONDS)
    } finally {
      busy.delete(cluster)
    }
  }
}
