// Worker entry: HTTP through the Hono app, usage-events (and, in local dev, node-ops) through the queue
// consumer, the hourly meter push on cron. Durable Object classes are re-exported so their bindings resolve.
import { createApp } from './app.ts'
import { log } from './log.ts'
import { METER_CRON, pushMeterUsage } from './services/billing/meter-push.ts'
import { consumeNodeOpsLocally } from './services/local-queue/node-ops-shim.ts'
import { writeUsageEvents } from './services/usage/write-usage-events.ts'

export { TenantGate } from '../../durable-objects/tenant-gate/tenant-gate.ts'
export { NodeMonitor } from '../../durable-objects/node-monitor/node-monitor.ts'
export { MetricsAggregator } from '../../durable-objects/metrics-aggregator/metrics-aggregator.ts'
export { LocalQueueShim } from '../../durable-objects/local-queue-shim/local-queue-shim.ts'

const app = createApp()

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue === 'usage-events') await writeUsageEvents(batch, env)
    else if (batch.queue === 'node-ops') await consumeNodeOpsLocally(batch, env) // local dev only, see node-ops-shim.ts
  },
  async scheduled(controller, env) {
    if (controller.cron === METER_CRON) await pushMeterUsage(env, controller.scheduledTime)
    else log.warn('unknown_cron', { cron: controller.cron })
  },
} satisfies ExportedHandler<Env>
