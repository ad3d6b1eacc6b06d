// Packed usage messages: the consumer writes every event of every pack once, a redelivered pack writes nothing
// twice, one bad event in a pack goes to the dead-letter queue alone, and a pack the runtime dead-letters whole
// becomes one dead-letter row per event. Drives the Worker's queue() handlers with real local D1.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { PACK_MAX_EVENTS, packUsageEvents, type UsagePack } from '../../src/schemas/usage-event.ts'
import { deliver, hourlyFromLedger, hourlyRows, ledgerRows, sumOf, usageEvent } from '../helpers/usage.ts'

const tenant = () => `t-${crypto.randomUUID().slice(0, 8)}`
const events = (tenantId: string, n: number) => Array.from({ length: n }, (_, i) => usageEvent(tenantId, i))

describe('packed usage messages', () => {
  it('packs N events into ceil(N / k) messages and the consumer writes each event once', async () => {
    const t = tenant()
    const all = events(t, 2 * PACK_MAX_EVENTS + 50)
    const packs = packUsageEvents(all)
    expect(packs).toHaveLength(3)
    const ids = packs.map((_, i) => `${t}-pack-${i}`)
    const result = await deliver(packs, { ids })
    expect(result.explicitAcks.sort()).toEqual([...ids].sort())
    expect(await ledgerRows(t)).toHaveLength(all.length)
    const hourly = await hourlyRows(t)
    expect(hourly).toEqual(await hourlyFromLedger(t))
    expect(sumOf(hourly, (r) => r.requests)).toBe(all.length)
    expect(sumOf(hourly, (r) => r.completion_tokens)).toBe(sumOf(all, (e) => e.completionTokens))
  })

  it('writes a backlog batch of full packs (more events than one D1 batch takes) each once, and again nothing', async () => {
    const t = tenant()
    const all = events(t, 11 * PACK_MAX_EVENTS)
    const packs = packUsageEvents(all)
    const ids = packs.map((_, i) => `${t}-backlog-${i}`)
    await deliver(packs, { ids })
    await deliver(packs, { ids, attempts: 2 })
    expect(await ledgerRows(t)).toHaveLength(all.length)
    expect(sumOf(await hourlyRows(t), (r) => r.requests)).toBe(all.length)
  })

  it('writes nothing twice when a packed message is redelivered, alone or repacked with new events', async () => {
    const t = tenant()
    const first = events(t, 30)
    await deliver([{ events: first }], { ids: [`${t}-a`] })
    const before = await hourlyRows(t)
    await deliver([{ events: first }], { ids: [`${t}-a`], attempts: 2 })
    expect(await hourlyRows(t)).toEqual(before)
    // A send retried after it got through, packed differently, with one new event.
    const extra = usageEvent(t, 30)
    await deliver([{ events: [...first.slice(10), extra] }, { events: first.slice(0, 10) }], { ids: [`${t}-b`, `${t}-c`] })
    expect(await ledgerRows(t)).toHaveLength(31)
    expect(sumOf(await hourlyRows(t), (r) => r.requests)).toBe(31)
    expect(await hourlyRows(t)).toEqual(await hourlyFromLedger(t))
  })

  it('still accepts one-event messages (in flight at deploy) beside packs', async () => {
    const t = tenant()
    const [a, b, c] = events(t, 3)
    await deliver([a, { events: [b, c] }], { ids: [`${t}-old`, `${t}-new`] })
    expect((await ledgerRows(t)).map((r) => r.request_id)).toEqual([`${t}-req-0`, `${t}-req-1`, `${t}-req-2`])
  })

  it('writes the valid events of a pack and sends only its bad one to the dead-letter queue', async () => {
    const t = tenant()
    const parked: unknown[] = []
    const dlq = {
      sendBatch: async (msgs: { body: unknown }[]) => {
        parked.push(...msgs.map((m) => m.body))
      },
      send: async () => {},
    }
    const bad = { ...usageEvent(t, 1), completionTokens: -1 }
    const pack = { events: [usageEvent(t, 0), bad, usageEvent(t, 2)] }
    const result = await deliver([pack], { env: { ...env, USAGE_EVENTS_DLQ: dlq as unknown as Queue }, ids: [`${t}-mixed`] })
    expect(result.explicitAcks).toEqual([`${t}-mixed`])
    expect(result.retryMessages).toEqual([])
    expect((await ledgerRows(t)).map((r) => r.request_id)).toEqual([`${t}-req-0`, `${t}-req-2`])
    expect(parked).toMatchObject([{ reason: 'schema', messageId: `${t}-mixed:1`, body: bad }])
  })

  it('stores a pack the runtime dead-lettered whole as one dead-letter row per event', async () => {
    const t = tenant()
    const pack: UsagePack = { events: events(t, 3) }
    const batch = createMessageBatch('usage-events-dlq', [{ id: `${t}-dead`, timestamp: new Date(), attempts: 1, body: pack }])
    const ctx = createExecutionContext()
    await worker.queue(batch, env)
    expect((await getQueueResult(batch, ctx)).ackAll).toBe(true)
    const { results } = await env.DB.prepare('SELECT id, reason, body FROM usage_dead_letters WHERE tenant_id = ? ORDER BY id')
      .bind(t)
      .all<{ id: string; reason: string; body: string }>()
    expect(results.map((r) => [r.id, r.reason])).toEqual(pack.events.map((e) => [`req:${e.requestId}`, 'retries_exhausted']))
    expect(JSON.parse(results[0]?.body ?? 'null')).toEqual(pack.events[0])
  })
})
