// The usage-events queue consumer: exactly-once events and rollups under redelivery, atomic failure, backoff,
// and dead-lettering of malformed messages. Drives the Worker's queue() handler with real local D1.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { eventChunks, writeLedger } from '../../src/services/usage/ledger-write.ts'
import { retryDelaySeconds } from '../../src/services/queue/store-batch.ts'
import { logsOf } from '../helpers/log-lines.ts'
import { deliver, hourlyFromLedger, hourlyRows, ledgerRows, sumOf, usageEvent } from '../helpers/usage.ts'

const tenant = () => `t-${crypto.randomUUID().slice(0, 8)}`
const events = (tenantId: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => usageEvent(tenantId, from + i))

describe('usage consumer', () => {
  it('writes every event once and rolls them up per tenant, key, model and hour', async () => {
    const t = tenant()
    const batch = events(t, 100)
    const result = await deliver(batch)
    expect(result.explicitAcks).toHaveLength(100)
    expect(result.retryMessages).toEqual([])
    const rows = await ledgerRows(t)
    expect(rows).toHaveLength(100)
    const hourly = await hourlyRows(t)
    expect(hourly).toEqual(await hourlyFromLedger(t))
    expect(hourly.length).toBeGreaterThan(1) // keys x models x hours really are separate buckets
    expect(sumOf(hourly, (r) => r.completion_tokens)).toBe(sumOf(batch, (e) => e.completionTokens))
    expect(sumOf(hourly, (r) => r.prompt_tokens)).toBe(sumOf(batch, (e) => e.promptTokens))
    expect(sumOf(hourly, (r) => r.requests)).toBe(100)
    expect(sumOf(hourly, (r) => r.errors)).toBe(batch.filter((e) => e.outcome !== 'completed').length)
  })

  it('changes nothing when the same batch is delivered again', async () => {
    const t = tenant()
    const batch = events(t, 60)
    await deliver(batch)
    const [rows, hourly] = [await ledgerRows(t), await hourlyRows(t)]
    const again = await deliver(batch)
    expect(again.explicitAcks).toHaveLength(60) // a redelivery is acked, not retried forever
    expect(await ledgerRows(t)).toEqual(rows)
    expect(await hourlyRows(t)).toEqual(hourly)
  })

  it('logs each batch it writes: events, how many were new, and how long D1 took', async () => {
    const t = tenant()
    const batch = events(t, 30)
    await deliver(batch.slice(0, 10))
    const written = (await logsOf(() => deliver(batch))).filter((l) => l.msg === 'usage_written')
    expect(written).toHaveLength(1)
    expect(written[0]).toMatchObject({ events: 30, inserted: 20 })
    expect(written[0]?.writeMs).toBeGreaterThanOrEqual(0)
  })

  it('adds only the new events when a redelivered batch overlaps one already written', async () => {
    const t = tenant()
    const all = events(t, 90)
    await deliver(all.slice(0, 40))
    await deliver(all.slice(20, 70))
    await deliver(all)
    expect(await ledgerRows(t)).toHaveLength(90)
    expect(await hourlyRows(t)).toEqual(await hourlyFromLedger(t))
    expect(sumOf(await hourlyRows(t), (r) => r.completion_tokens)).toBe(sumOf(all, (e) => e.completionTokens))
  })

  it('counts a duplicate inside one batch once', async () => {
    const t = tenant()
    const [a, b] = events(t, 2)
    await deliver([a, b, a], { ids: ['m1', 'm2', 'm3'] })
    expect(await ledgerRows(t)).toHaveLength(2)
    expect(sumOf(await hourlyRows(t), (r) => r.requests)).toBe(2)
  })

  it('writes nothing when the batch fails halfway, and everything once on redelivery', async () => {
    const t = tenant()
    const batch = events(t, 50)
    // Poison the rollup step: the events' INSERT has already run inside the batch when this statement fails.
    await env.DB.exec(`CREATE TRIGGER poison_rollup BEFORE INSERT ON usage_hourly WHEN NEW.tenant_id = '${t}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END`)
    let failed: Awaited<ReturnType<typeof deliver>> | undefined
    try {
      failed = await deliver(batch, { attempts: 2 })
    } finally {
      await env.DB.exec('DROP TRIGGER poison_rollup')
    }
    expect(failed.explicitAcks).toEqual([])
    expect(failed.retryMessages).toHaveLength(50)
    expect(failed.retryDelays).toEqual(Array(50).fill(retryDelaySeconds(2)))
    expect(await ledgerRows(t)).toEqual([]) // the inserted events were rolled back with the failed rollup
    expect(await hourlyRows(t)).toEqual([])

    const retried = await deliver(batch, { attempts: 3 })
    expect(retried.explicitAcks).toHaveLength(50)
    expect(await ledgerRows(t)).toHaveLength(50)
    expect(await hourlyRows(t)).toEqual(await hourlyFromLedger(t))
  })

  it('rolls back the first statements of a multi-statement insert when a later one fails', async () => {
    const t = tenant()
    const big = 'm'.repeat(40_000) // forces the events into several INSERT statements of one batch
    const batch = events(t, 40).map((e) => ({ ...e, model: `${big}-${e.model}` }))
    expect(eventChunks(batch).length).toBeGreaterThan(2)
    const last = batch.at(-1)?.requestId ?? ''
    await env.DB.exec(`CREATE TRIGGER poison_last BEFORE INSERT ON usage_events WHEN NEW.request_id = '${last}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END`)
    try {
      await expect(writeLedger(env.DB, batch)).rejects.toThrow(/poisoned/)
    } finally {
      await env.DB.exec('DROP TRIGGER poison_last')
    }
    expect(await ledgerRows(t)).toEqual([])
    await writeLedger(env.DB, batch)
    expect(await ledgerRows(t)).toHaveLength(40)
    expect(await hourlyRows(t)).toEqual(await hourlyFromLedger(t))
  })

  it('loses and duplicates nothing when a written batch was never acked (consumer died before acking)', async () => {
    const t = tenant()
    const batch = events(t, 30)
    await writeLedger(env.DB, batch.slice(0, 15)) // committed, but the consumer "crashed" before ack()
    const result = await deliver(batch)
    expect(result.explicitAcks).toHaveLength(30)
    expect(await ledgerRows(t)).toHaveLength(30)
    expect(sumOf(await hourlyRows(t), (r) => r.requests)).toBe(30)
    expect(await hourlyRows(t)).toEqual(await hourlyFromLedger(t))
  })

  it('retries the whole batch with backoff when D1 is unavailable', async () => {
    const t = tenant()
    const db = { prepare: (q: string) => env.DB.prepare(q), batch: () => Promise.reject(new Error('D1_ERROR: overloaded')) }
    const down = { ...env, DB: db as unknown as D1Database }
    const result = await deliver(events(t, 5), { env: down, attempts: 4 })
    expect(result.explicitAcks).toEqual([])
    expect(result.retryMessages).toHaveLength(5)
    expect(result.retryDelays).toEqual(Array(5).fill(retryDelaySeconds(4)))
    expect(await ledgerRows(t)).toEqual([])
  })

  it('sends a malformed message to the dead-letter queue at once and still writes the good ones', async () => {
    const t = tenant()
    const parked: unknown[] = []
    const dlq = {
      sendBatch: async (msgs: { body: unknown }[]) => {
        parked.push(...msgs.map((m) => m.body))
      },
      send: async () => {},
    }
    const bad = { ...usageEvent(t, 99), completionTokens: -1 }
    const result = await deliver([usageEvent(t, 1), bad, 'not json at all'], {
      env: { ...env, USAGE_EVENTS_DLQ: dlq as unknown as Queue },
      ids: ['good', 'bad-tokens', 'bad-shape'],
    })
    expect(result.explicitAcks.sort()).toEqual(['bad-shape', 'bad-tokens', 'good'])
    expect(result.retryMessages).toEqual([])
    expect(parked).toMatchObject([
      { reason: 'schema', messageId: 'bad-tokens', body: bad },
      { reason: 'schema', messageId: 'bad-shape', body: 'not json at all' },
    ])
    expect((await ledgerRows(t)).map((r) => r.request_id)).toEqual([`${t}-req-1`])
  })

  it('backs off exponentially, capped', () => {
    expect([1, 2, 3, 4, 5, 20].map(retryDelaySeconds)).toEqual([5, 10, 20, 40, 80, 300])
  })
})
