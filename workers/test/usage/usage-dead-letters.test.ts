// The usage-events dead-letter queue: its consumer keeps every message (both shapes) in D1, the admin lists and
// replays them into the ledger exactly once; and a batch from a queue the Worker does not know is retried, never
// acked. Drives the Worker's queue() handler and its admin routes with real local D1.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index.ts'
import { admin, call } from '../helpers/gateway.ts'
import { hourlyFromLedger, hourlyRows, ledgerRows, usageEvent } from '../helpers/usage.ts'

const tenant = () => `t-${crypto.randomUUID().slice(0, 8)}`

type DlqMessage = { id: string; body: unknown; attempts?: number }

async function deliverTo(queue: string, messages: DlqMessage[], withEnv: Env = env) {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  )
  const ctx = createExecutionContext()
  await worker.queue(batch, withEnv)
  return getQueueResult(batch, ctx)
}

type DeadLetterView = {
  id: string
  message_id: string
  request_id: string | null
  tenant_id: string | null
  reason: string
  error: string | null
  body: unknown
  attempts: number
  status: string
  replay_error: string | null
  first_seen_at: number
  last_seen_at: number
}

async function deadLetters(query = ''): Promise<DeadLetterView[]> {
  const res = await admin(`/admin/usage/dead-letters?limit=500${query}`)
  expect(res.status).toBe(200)
  return (await res.json<{ data: DeadLetterView[] }>()).data
}

const replay = (json: unknown) => admin('/admin/usage/dead-letters/replay', { method: 'POST', json })

/** A schema reject exactly as write-usage-events.ts parks it. */
const parked = (body: unknown, messageId: string) => ({ reason: 'schema', error: '✖ Invalid input', messageId, body })

describe('usage-events-dlq consumer', () => {
  it('stores a wrapped schema reject and a raw runtime-dead-lettered event, and acks them', async () => {
    const t = tenant()
    const raw = usageEvent(t, 1)
    const bad = { ...usageEvent(t, 2), completionTokens: -1 }
    const result = await deliverTo('usage-events-dlq', [
      { id: `dlq-raw-${t}`, body: raw, attempts: 1 },
      { id: `dlq-wrapped-${t}`, body: parked(bad, `orig-${t}`), attempts: 2 },
      { id: `dlq-junk-${t}`, body: parked('not json at all', `orig-junk-${t}`) },
    ])
    expect(result.ackAll).toBe(true)
    expect(result.retryMessages).toEqual([])
    const mine = (await deadLetters()).filter((r) => r.id.includes(t))
    expect(mine).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: `req:${raw.requestId}`,
          message_id: `dlq-raw-${t}`,
          request_id: raw.requestId,
          tenant_id: t,
          reason: 'retries_exhausted',
          error: null,
          body: raw,
          attempts: 1,
          status: 'pending',
        }),
        expect.objectContaining({
          id: `req:${bad.requestId}`,
          message_id: `dlq-wrapped-${t}`,
          tenant_id: t,
          reason: 'schema',
          error: '✖ Invalid input',
          body: parked(bad, `orig-${t}`),
          attempts: 2,
          status: 'pending',
        }),
        expect.objectContaining({
          id: `msg:orig-junk-${t}`,
          request_id: null,
          tenant_id: null,
          reason: 'schema',
          body: parked('not json at all', `orig-junk-${t}`),
        }),
      ]),
    )
    expect(mine).toHaveLength(3)
  })

  it('keeps one row per event when the dead-letter message is delivered again', async () => {
    const t = tenant()
    const raw = usageEvent(t, 3)
    await deliverTo('usage-events-dlq', [{ id: `dlq-${t}`, body: raw, attempts: 1 }])
    const [before] = (await deadLetters()).filter((r) => r.id === `req:${raw.requestId}`)
    await deliverTo('usage-events-dlq', [{ id: `dlq-${t}`, body: raw, attempts: 3 }])
    const after = (await deadLetters()).filter((r) => r.id === `req:${raw.requestId}`)
    expect(after).toHaveLength(1)
    expect(after[0]).toMatchObject({ attempts: 3, first_seen_at: before?.first_seen_at, message_id: `dlq-${t}` })
    expect(after[0]!.last_seen_at).toBeGreaterThanOrEqual(before!.last_seen_at)
  })

  it('retries the batch with backoff when D1 cannot store it', async () => {
    const t = tenant()
    const db = { prepare: (q: string) => env.DB.prepare(q), batch: () => Promise.reject(new Error('D1_ERROR: overloaded')) }
    const result = await deliverTo('usage-events-dlq', [{ id: `dlq-down-${t}`, body: usageEvent(t, 1), attempts: 2 }], {
      ...env,
      DB: db as unknown as D1Database,
    })
    expect(result.ackAll).toBe(false)
    expect(result.explicitAcks).toEqual([])
    expect(result.retryMessages.map((m) => m.msgId)).toEqual([`dlq-down-${t}`]) // QueueResult does not report the delay
  })
})

describe('POST /admin/usage/dead-letters/replay', () => {
  it('writes a dead-lettered event into the ledger and its rollup, and a second replay counts it once', async () => {
    const t = tenant()
    const raw = usageEvent(t, 4)
    await deliverTo('usage-events-dlq', [{ id: `dlq-${t}`, body: raw }])
    const id = `req:${raw.requestId}`

    const first = await replay({ ids: [id] })
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({ object: 'usage_dead_letter_replay', replayed: 1, inserted: 1, duplicates: 0, invalid: [], not_found: [] })
    expect((await ledgerRows(t)).map((r) => r.request_id)).toEqual([raw.requestId])
    const hourly = await hourlyRows(t)
    expect(hourly).toEqual(await hourlyFromLedger(t))
    expect((await deadLetters('&status=replayed')).find((r) => r.id === id)).toMatchObject({ status: 'replayed', replay_error: null })

    const second = await replay({ ids: [id] })
    expect(await second.json()).toMatchObject({ replayed: 1, inserted: 0, duplicates: 1 })
    expect(await ledgerRows(t)).toHaveLength(1)
    expect(await hourlyRows(t)).toEqual(hourly)
  })

  it("unwraps a schema reject that today's schema accepts, and leaves a still-invalid one pending with the reason", async () => {
    const t = tenant()
    const nowValid = usageEvent(t, 5)
    const stillBad = { ...usageEvent(t, 6), promptTokens: -5 }
    await deliverTo('usage-events-dlq', [
      { id: `dlq-a-${t}`, body: parked(nowValid, `orig-a-${t}`) },
      { id: `dlq-b-${t}`, body: parked(stillBad, `orig-b-${t}`) },
    ])
    const res = await replay({ ids: [`req:${nowValid.requestId}`, `req:${stillBad.requestId}`, 'req:nope'] })
    expect(await res.json()).toMatchObject({
      replayed: 1,
      inserted: 1,
      not_found: ['req:nope'],
      invalid: [{ id: `req:${stillBad.requestId}`, error: expect.stringContaining('promptTokens') }],
    })
    expect((await ledgerRows(t)).map((r) => r.request_id)).toEqual([nowValid.requestId])
    const pending = (await deadLetters('&status=pending')).find((r) => r.id === `req:${stillBad.requestId}`)
    expect(pending).toMatchObject({ status: 'pending', replay_error: expect.stringContaining('promptTokens') })
  })

  it('discards a row that can never be replayed: out of pending (and of the pending gauge), not counted, audited', async () => {
    const t = tenant()
    const bad = { ...usageEvent(t, 9), promptTokens: -1 }
    const good = usageEvent(t, 10)
    await deliverTo('usage-events-dlq', [
      { id: `dlq-x-${t}`, body: parked(bad, `orig-x-${t}`) },
      { id: `dlq-y-${t}`, body: good },
    ])
    const res = await admin('/admin/usage/dead-letters/discard', { method: 'POST', json: { ids: [`req:${bad.requestId}`, 'req:nope'] } })
    expect(await res.json()).toEqual({ object: 'usage_dead_letter_discard', discarded: [`req:${bad.requestId}`], not_pending: [], not_found: ['req:nope'] })
    expect((await deadLetters('&status=pending')).filter((r) => r.tenant_id === t).map((r) => r.id)).toEqual([`req:${good.requestId}`])
    expect((await deadLetters('&status=discarded')).filter((r) => r.tenant_id === t).map((r) => r.id)).toEqual([`req:${bad.requestId}`])
    // A replay of the pending rows leaves the discarded one alone; a second discard of it changes nothing.
    await replay({})
    expect((await ledgerRows(t)).map((r) => r.request_id)).toEqual([good.requestId])
    const again = await admin('/admin/usage/dead-letters/discard', { method: 'POST', json: { ids: [`req:${bad.requestId}`] } })
    expect(await again.json()).toMatchObject({ discarded: [], not_pending: [`req:${bad.requestId}`] })
    const audit = await env.DB.prepare("SELECT actor, after FROM audit_log WHERE action = 'usage.dead_letters.discard' ORDER BY id DESC LIMIT 1").first<{
      actor: string
      after: string
    }>()
    expect(audit?.actor).toBe('admin')
    expect(JSON.parse(audit!.after).discarded).toEqual([`req:${bad.requestId}`])
  })

  it('replays the pending rows when no ids are given, and writes an audit row', async () => {
    const t = tenant()
    const events = [usageEvent(t, 7), usageEvent(t, 8)]
    await deliverTo(
      'usage-events-dlq',
      events.map((body, i) => ({ id: `dlq-${i}-${t}`, body })),
    )
    const res = await replay({})
    expect(res.status).toBe(200)
    expect((await ledgerRows(t)).map((r) => r.request_id).sort()).toEqual(events.map((e) => e.requestId).sort())
    expect((await deadLetters('&status=pending')).filter((r) => r.tenant_id === t)).toEqual([])
    const audit = await env.DB.prepare("SELECT actor, after FROM audit_log WHERE action = 'usage.dead_letters.replay' ORDER BY id DESC LIMIT 1").first<{
      actor: string
      after: string
    }>()
    expect(audit?.actor).toBe('admin')
    expect(JSON.parse(audit!.after).ids).toEqual(expect.arrayContaining(events.map((e) => `req:${e.requestId}`)))
  })

  it('replays 100 named rows in one call, the most it accepts (one bound parameter for the ids, D1 allows 100)', async () => {
    const t = tenant()
    const events = Array.from({ length: 100 }, (_, i) => usageEvent(t, 100 + i))
    await deliverTo(
      'usage-events-dlq',
      events.map((body, i) => ({ id: `dlq-many-${i}-${t}`, body })),
    )
    const res = await replay({ ids: events.map((e) => `req:${e.requestId}`) })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ replayed: 100, inserted: 100, duplicates: 0, not_found: [] })
    expect(await ledgerRows(t)).toHaveLength(100)
    expect((await deadLetters('&status=pending')).filter((r) => r.tenant_id === t)).toEqual([])
  })

  it('answers 400 naming a bad field, and 401 without the admin token', async () => {
    expect(await (await replay({ ids: [] })).json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'ids' } })
    expect(await (await admin('/admin/usage/dead-letters?status=lost')).json()).toMatchObject({ error: { param: 'status' } })
    expect((await call('/admin/usage/dead-letters')).status).toBe(401)
    expect((await call('/admin/usage/dead-letters/replay', { method: 'POST', json: {} })).status).toBe(401)
  })
})

describe('queue dispatch', () => {
  it('retries, never acks, a batch from a queue it has no consumer for', async () => {
    const result = await deliverTo('usage-events-renamed', [{ id: 'stray-1', body: usageEvent(tenant(), 1) }])
    expect(result.ackAll).toBe(false)
    expect(result.retryBatch.retry).toBe(true)
    expect(result.explicitAcks).toEqual([])
  })
})

describe('end to end through the queues', () => {
  it('a message the usage consumer dead-letters ends up in usage_dead_letters', async () => {
    const t = tenant()
    const bad = { ...usageEvent(t, 9), endpoint: 'images' }
    await env.USAGE_EVENTS.send(bad, { contentType: 'json' })
    let rows: DeadLetterView[] = []
    for (let i = 0; i < 320 && rows.length === 0; i++) {
      // two queue hops, each up to its 1 s batch timeout
      rows = (await deadLetters()).filter((r) => r.tenant_id === t)
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 25))
    }
    expect(rows).toMatchObject([{ id: `req:${bad.requestId}`, reason: 'schema', body: { reason: 'schema', body: bad } }])
  }, 15_000)
})
