// Worker entry: HTTP through the Hono app, usage-events through the queue consumer. Durable Object classes
// are re-exported here so their bindings resolve.
import { createApp } from './app.ts'
import { consumeNodeOpsLocally } from './services/local-queue/node-ops-shim.ts'
import { writeUsageEvents } from './services/usage/write-usage-events.ts'

export { TenantGate } from '../../durable-objects/tenant-gate/tenant-gate.ts'
export { LocalQueueShim } from '../../durable-objects/local-queue-shim/local-queue-shim.ts'

const app = createApp()

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue === 'usage-events') await writeUsageEvents(batch, env)
    else if (batch.queue === 'node-ops') await consumeNodeOpsLocally(batch, env) // local dev only, see node-ops-shim.ts
  },
} satisfies ExportedHandler<Env>
