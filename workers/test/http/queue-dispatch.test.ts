// queue() dispatches on the queue's role in this environment (workers/src/queue-names.ts): a deployed environment's
// prefixed queue reaches its handler, a queue of another environment is retried, never acked.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { ledgerRows, usageEvent } from '../helpers/usage.ts'

async function deliverTo(queue: string, body: unknown, withEnv: Env) {
  const batch = createMessageBatch(queue, [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body }])
  const ctx = createExecutionContext()
  await worker.queue(batch, withEnv)
  return getQueueResult(batch, ctx)
}

describe('queue dispatch by environment', () => {
  it("writes a usage event that arrives on production's cic-production-usage-events", async () => {
    const tenant = `t-${crypto.randomUUID().slice(0, 8)}`
    const result = await deliverTo('cic-production-usage-events', usageEvent(tenant, 1), { ...env, ENVIRONMENT: 'production' })
    expect(result.retryBatch.retry).toBe(false)
    expect(await ledgerRows(tenant)).toHaveLength(1)
  })

  it("retries a batch from another environment's queue, and a prefixed name in local dev", async () => {
    const tenant = `t-${crypto.randomUUID().slice(0, 8)}`
    const crossed = await deliverTo('cic-staging-usage-events', usageEvent(tenant, 1), { ...env, ENVIRONMENT: 'production' })
    const local = await deliverTo('cic-production-usage-events', usageEvent(tenant, 2), env)
    for (const result of [crossed, local]) {
      expect(result.ackAll).toBe(false)
      expect(result.retryBatch.retry).toBe(true)
      expect(result.explicitAcks).toEqual([])
    }
    expect(await ledgerRows(tenant)).toHaveLength(0)
  })
})
