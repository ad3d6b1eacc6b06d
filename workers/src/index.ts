// Worker entry: HTTP through the Hono app, usage-events and its dead-letter queue (and, in local dev, node-ops)
// through the queue consumers, the hourly meter push and the usage retention on cron. Durable Object classes are re-exported so their
// bindings resolve.
import { createApp } from './app.ts'
import { log } from './log.ts'
import { guardHandlers } from './platform/guard.ts'
import { type WorkerConsumedRole, workerConsumedRole } from './queue-names.ts'
import { METER_CRON, pushMeterUsage } from './services/billing/meter-push.ts'
import { consumeNodeOpsLocally } from './services/local-queue/node-ops-shim.ts'
import { storeNodeOpDeadLetters } from './services/nodes/node-ops-dead-letters.ts'
import { storeDeadLetters } from './services/usage/usage-dead-letters.ts'
import { writeUsageEvents } from './services/usage/write-usage-events.ts'
import { pruneUsage, USAGE_PRUNE_CRON } from './services/usage/usage-retention.ts'
import { FLEET_CRON, nudgeAllFleets } from './services/fleet/fleet-cron.ts'

export { TenantGate } from '../../durable-objects/tenant-gate/tenant-gate.ts'
export { NodeMonitor } from '../../durable-objects/node-monitor/node-monitor.ts'
export { MetricsAggregator } from '../../durable-objects/metrics-aggregator/metrics-aggregator.ts'
export { LocalQueueShim } from '../../durable-objects/local-queue-shim/local-queue-shim.ts'
export { UsageOutbox } from '../../durable-objects/usage-outbox/usage-outbox.ts'
export { FleetReconciler } from '../../durable-objects/fleet-reconciler/fleet-reconciler.ts'
export { AdmissionLocation } from '../../durable-objects/admission-location/admission-location.ts'

const app = createApp()

/** One handler per queue role the Worker consumes (typed by WORKER_CONSUMED_ROLES: a role without one fails the typecheck). */
const QUEUE_HANDLERS: Record<WorkerConsumedRole, (batch: MessageBatch<unknown>, env: Env) => Promise<void>> = {
  'usage-events': writeUsageEvents,
  'usage-events-dlq': storeDeadLetters,
  'node-ops': consumeNodeOpsLocally, // local dev only, see node-ops-shim.ts
  'node-ops-dlq': storeNodeOpDeadLetters,
}

// Each handler call is one invocation of the platform guard: production's limits, checked in tests (platform/guard.ts).
export default guardHandlers({
  fetch: app.fetch,
  async queue(batch, env) {
    // Deployed queues are named `cic-<env>-<role>` (queue-names.ts); a queue of another environment has no role here.
    const role = workerConsumedRole(batch.queue, env.ENVIRONMENT)
    if (role) return QUEUE_HANDLERS[role](batch, env)
    // Returning would ack the batch and lose it: a consumer was bound without a handler here (a renamed queue,
    // a config change deployed before the code). Retried, it waits for the fix or reaches its own DLQ.
    log.error('unknown_queue', { queue: batch.queue, size: batch.messages.length })
    batch.retryAll()
  },
  async scheduled(controller, env) {
    if (controller.cron === METER_CRON) await pushMeterUsage(env, controller.scheduledTime)
    else if (controller.cron === USAGE_PRUNE_CRON) log.info('usage_pruned', await pruneUsage(env.DB, Date.now()))
    else if (controller.cron === FLEET_CRON) await nudgeAllFleets(env)
    else log.warn('unknown_cron', { cron: controller.cron })
  },
}) satisfies ExportedHandler<Env>
