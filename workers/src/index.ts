// Worker entry: HTTP through the Hono app, usage-events through the queue consumer, the hourly cron pushes usage
// to Stripe. Durable Object classes are re-exported here so their bindings resolve.
import { createApp } from './app.ts'
import { log } from './log.ts'
import { METER_CRON, pushMeterUsage } from './services/billing/meter-push.ts'
import { writeUsageEvents } from './services/usage/write-usage-events.ts'

export { TenantGate } from '../../durable-objects/tenant-gate/tenant-gate.ts'
export { NodeMonitor } from '../../durable-objects/node-monitor/node-monitor.ts'

const app = createApp()

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue === 'usage-events') await writeUsageEvents(batch, env)
  },
  async scheduled(controller, env) {
    if (controller.cron === METER_CRON) await pushMeterUsage(env, controller.scheduledTime)
    else log.warn('unknown_cron', { cron: controller.cron })
  },
} satisfies ExportedHandler<Env>
