// The local pull-queue shim must behave like Cloudflare's pull consumer API, since the runner's client is the
// same in dev and production: wire shapes over HTTP, leases and visibility, attempts, retries, late acks.
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../../workers/src/env.ts'
import { isLocalQueueShimEnabled } from '../../workers/src/services/local-queue/node-ops-shim.ts'
import { queueApi, RUNNER_TOKEN } from '../../workers/test/helpers/node-ops.ts'
import { messageIdOfLease, newLeaseId } from './queue-shim-core.ts'

const freshQueue = () => env.QUEUE_SHIM.getByName(`queue:test-${crypto.randomUUID()}`)
const pullAll = (q: ReturnType<typeof freshQueue>, visibilityTimeoutMs = 60_000) => q.pull({ batchSize: 100, visibilityTimeoutMs })

describe('LocalQueueShim over HTTP (the node-ops queue)', () => {
  it("pulls with Cloudflare's envelope and message shape: base64 JSON body, lease id, attempts, metadata", async () => {
    const id = await env.QUEUE_SHIM.getByName('queue:node-ops').send({ body: { op: 'hello', n: 1 } })
    const res = await queueApi('pull', { batch_size: 100, visibility_timeout_ms: 60_000 })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { success: boolean; errors: unknown[]; result: { messages: Record<string, unknown>[]; message_backlog_count: number } }
    expect(body).toMatchObject({ success: true, errors: [] })
    const message = body.result.messages.find((m) => m.id === id)
    expect(message).toEqual({
      id,
      body: btoa(JSON.stringify({ op: 'hello', n: 1 })),
      timestamp_ms: expect.any(Number),
      attempts: 1,
      lease_id: expect.any(String),
      metadata: { 'CF-sourceMessageSource': 'worker', 'CF-Content-Type': 'json' },
    })
    expect(body.result.message_backlog_count).toBeGreaterThanOrEqual(1)
    const acked = await queueApi('ack', { acks: [{ lease_id: message?.lease_id }], retries: [] })
    expect(await acked.json()).toEqual({ success: true, errors: [], messages: [], result: { ackCount: 1, retryCount: 0, warnings: {} } })
  })

  it("answers 401 in Cloudflare's envelope for a wrong token, 404 for another queue, 400 for a bad body", async () => {
    const denied = await queueApi('pull', {}, 'node-ops', 'not-the-runner-token')
    expect(denied.status).toBe(401)
    expect(await denied.json()).toMatchObject({ success: false, errors: [{ code: 10000 }] })
    expect((await queueApi('pull', {}, 'usage-events')).status).toBe(404)
    expect((await queueApi('pull', { batch_size: 0 })).status).toBe(400)
    expect((await queueApi('pull', { batch_size: 101 })).status).toBe(400)
    expect((await queueApi('ack', { acks: [{ lease: 'x' }] })).status).toBe(400)
    expect(RUNNER_TOKEN).toBe(env.RUNNER_TOKEN)
  })

  it('is off unless LOCAL_QUEUE_SHIM=1, and always off in production', () => {
    const config = loadConfig(env)
    expect(isLocalQueueShimEnabled(config)).toBe(true)
    expect(isLocalQueueShimEnabled({ ...config, LOCAL_QUEUE_SHIM: '0' })).toBe(false)
    expect(isLocalQueueShimEnabled({ ...config, ENVIRONMENT: 'production' })).toBe(false)
  })
})

describe('LocalQueueShim semantics', () => {
  it('hides a leased message until its visibility timeout, then redelivers it with a new lease and attempts + 1', async () => {
    const q = freshQueue()
    const id = await q.send({ body: { n: 1 } })
    const first = (await pullAll(q, 200)).messages
    expect(first.map((m) => [m.id, m.attempts])).toEqual([[id, 1]])
    expect((await pullAll(q)).messages).toEqual([])
    const second = await vi.waitFor(
      async () => {
        const { messages } = await pullAll(q)
        if (messages.length === 0) throw new Error('not visible yet')
        return messages
      },
      { timeout: 5_000, interval: 50 },
    )
    expect(second[0]).toMatchObject({ id, attempts: 2 })
    expect(second[0]?.lease_id).not.toBe(first[0]?.lease_id)
  })

  it('accepts a late ack with an expired lease, and warns about unknown leases', async () => {
    const q = freshQueue()
    const id = await q.send({ body: 'x', contentType: 'text' })
    const [old] = (await pullAll(q, 1)).messages
    await vi.waitFor(async () => expect((await pullAll(q)).messages).toHaveLength(1), { timeout: 5_000, interval: 50 }) // redelivered
    expect(await q.ack({ acks: [old?.lease_id as string], retries: [] })).toEqual({ ackCount: 1, retryCount: 0, warnings: {} })
    const again = await q.ack({ acks: [old?.lease_id as string], retries: [] })
    expect(again.ackCount).toBe(0)
    expect(Object.keys(again.warnings)).toEqual([old?.lease_id])
    expect(messageIdOfLease(old?.lease_id as string)).toBe(id)
  })

  it('makes a retried message visible again after delay_seconds, counting the next delivery', async () => {
    const q = freshQueue()
    const now = await q.send({ body: { n: 'now' } })
    const later = await q.send({ body: { n: 'later' } })
    const leased = (await pullAll(q)).messages
    const lease = (id: string) => leased.find((m) => m.id === id)?.lease_id as string
    expect(
      await q.ack({
        acks: [],
        retries: [
          { leaseId: lease(now), delaySeconds: 0 },
          { leaseId: lease(later), delaySeconds: 3600 },
        ],
      }),
    ).toMatchObject({ retryCount: 2 })
    const { messages } = await pullAll(q)
    expect(messages.map((m) => [m.id, m.attempts])).toEqual([[now, 2]])
  })

  it('stores a redelivered push message once (same id), and honours a send delay', async () => {
    const q = freshQueue()
    await q.send({ id: 'fixed-id', body: { a: 1 } })
    await q.send({ id: 'fixed-id', body: { a: 1 } })
    await q.send({ body: { b: 1 }, delaySeconds: 3600 })
    const { messages, message_backlog_count } = await pullAll(q)
    expect(messages.map((m) => m.id)).toEqual(['fixed-id'])
    expect(message_backlog_count).toBe(2)
  })

  it('encodes the message id in the lease id, and rejects garbage leases', () => {
    expect(messageIdOfLease(newLeaseId('abc123'))).toBe('abc123')
    expect(messageIdOfLease('not-a-lease')).toBeNull()
  })
})
