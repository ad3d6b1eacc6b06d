// LOCAL DEV ONLY: the Worker's side of the node-ops pull-queue emulation. In dev, the Worker is also a push
// consumer of node-ops (declared only in the generated dev config, see scripts/dev-stack.ts, and in the vitest
// config) and moves every message into the LocalQueueShim object, from which the runner pulls over HTTP.
// In production node-ops has an HTTP pull consumer and no Worker consumer, so none of this runs.
import { type Config, isProductionLike, loadConfig } from '../../env.ts'
import { log } from '../../log.ts'

export const SHIMMED_QUEUES: readonly string[] = ['node-ops']

/** Both switches: the explicit dev flag, and never in a production-like environment. */
export const isLocalQueueShimEnabled = (config: Config) => config.LOCAL_QUEUE_SHIM === '1' && !isProductionLike(config)

export const queueShim = (env: Env, queue: string | undefined) => (queue && SHIMMED_QUEUES.includes(queue) ? env.QUEUE_SHIM.getByName(`queue:${queue}`) : null)

/** queue() handler for node-ops: store each message in the shim with its id and timestamp, then ack it. */
export async function consumeNodeOpsLocally(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const shim = queueShim(env, batch.queue)
  if (!shim || !isLocalQueueShimEnabled(loadConfig(env))) {
    // A Worker consumer on node-ops outside local dev is a misconfiguration: production pulls over HTTP.
    log.error('node_ops_unexpected_push_consumer', { queue: batch.queue, size: batch.messages.length })
    batch.retryAll({ delaySeconds: 300 })
    return
  }
  for (const msg of batch.messages) {
    await shim.send({ id: msg.id, body: msg.body, contentType: 'json', timestampMs: msg.timestamp.getTime() })
    msg.ack()
  }
}
