// Worker entry: HTTP through the Hono app, usage-events through the queue consumer. Durable Object classes
// are re-exported here so their bindings resolve.
import { createApp } from './app.ts'
import { writeUsageEvents } from './services/usage/write-usage-events.ts'

export { TenantGate } from '../../durable-objects/tenant-gate/tenant-gate.ts'
export { NodeMonitor } from '../../durable-objects/node-monitor/node-monitor.ts'

const app = createApp()

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue === 'usage-events') await writeUsageEvents(batch, env)
  },
} satisfies ExportedHandler<Env>
