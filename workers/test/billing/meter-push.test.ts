// The hourly meter push, through the Worker's scheduled() handler and the real stripe client, against the Stripe
// stand-in over TCP: what is sent, when, under which identifier, and that nothing is ever counted twice.
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import worker from '../../src/index.ts'
import { writeLedger } from '../../src/services/usage/ledger-write.ts'
import { admin, api, call, registerNode } from '../helpers/gateway.ts'
import { seedPrice } from '../helpers/prices.ts'
import { seedCustomerTenant } from '../helpers/stripe-events.ts'

const HOUR = 3_600_000
const MINUTE = 60_000
const standin = inject('stripeStandin')
const stripeEnv = { ...env, STRIPE_API_BASE: standin }
// The meter carries money: at $1/M both ways one token is one micro-dollar, so the values below are token counts.
beforeAll(() => seedPrice('cic-demo-llm', 1_000_000, 1_000_000))

type Receipt = {
  identifier: string
  eventName: string
  customer: string
  value: string
  timestamp: number
  isAccepted: boolean
  isRepeat: boolean
  status: number
}
type PushRow = { identifier: string; value: number; status: string; attempts: number; last_error: string | null; seq: number }

/** A past hour start, so every timestamp is one Stripe accepts (past 35 days). */
const pastHour = (hoursAgo: number) => Math.floor(Date.now() / HOUR) * HOUR - hoursAgo * HOUR

async function runCron(scheduledTime: number, withEnv: Env = stripeEnv) {
  const ctx = createExecutionContext()
  await worker.scheduled(createScheduledController({ scheduledTime, cron: '5 * * * *' }), withEnv)
  await waitOnExecutionContext(ctx)
}

/** One event through the ledger write (and its rollups), written as if at its own time: old hours are inside the horizon. */
async function recordUsage(tenantId: string, createdAt: number, promptTokens: number, completionTokens: number) {
  await writeLedger(
    env.DB,
    [
      {
        requestId: `req_${crypto.randomUUID()}`,
        tenantId,
        keyId: 'key_t',
        model: 'cic-demo-llm',
        nodeId: 'node_t',
        endpoint: 'chat.completions',
        promptTokens,
        completionTokens,
        outcome: 'completed',
        httpStatus: 200,
        usageSource: 'node',
        latencyMs: 12,
        ttftMs: null,
        createdAt,
      },
    ],
    { now: createdAt },
  )
}

async function received(customer: string): Promise<Receipt[]> {
  const res = await fetch(`${standin}/_standin/meter-events?customer=${customer}`)
  return (await res.json<{ data: Receipt[] }>()).data
}

const pushes = async (tenantId: string) =>
  (
    await env.DB.prepare('SELECT identifier, value, status, attempts, last_error, seq FROM meter_pushes WHERE tenant_id = ? ORDER BY hour_start, seq')
      .bind(tenantId)
      .all<PushRow>()
  ).results

const failNext = (customer: string, mode: 'reject' | 'accept_then_fail') =>
  fetch(`${standin}/_standin/fail`, { method: 'POST', body: JSON.stringify({ customer, status: 500, times: 1, mode }) })

describe('meter push', () => {
  it('sends each closed hour per tenant: total tokens as a string, the hour start, a deterministic identifier', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const h = pastHour(6)
    await recordUsage(tenantId, h + 10 * MINUTE, 100, 20)
    await recordUsage(tenantId, h + 50 * MINUTE, 30, 0)
    await recordUsage(tenantId, h + HOUR + 5 * MINUTE, 7, 3)
    await recordUsage(tenantId, h + 2 * HOUR + MINUTE, 1000, 1000) // still open at the run below
    const unbilled = await (await admin('/admin/tenants', { method: 'POST', json: { name: 'no-stripe-customer' } })).json<{ id: string }>()
    await recordUsage(unbilled.id, h + 10 * MINUTE, 500, 500)

    await runCron(h + 2 * HOUR + 5 * MINUTE)

    expect(await received(customer)).toEqual([
      {
        identifier: `${tenantId}:cic_cost_micro_usd:${h / 1000}`,
        eventName: 'cic_cost_micro_usd',
        customer,
        value: '150',
        timestamp: h / 1000,
        isAccepted: true,
        isRepeat: false,
        status: 200,
      },
      {
        identifier: `${tenantId}:cic_cost_micro_usd:${(h + HOUR) / 1000}`,
        eventName: 'cic_cost_micro_usd',
        customer,
        value: '10',
        timestamp: (h + HOUR) / 1000,
        isAccepted: true,
        isRepeat: false,
        status: 200,
      },
    ])
    expect((await pushes(tenantId)).map((p) => [p.status, p.attempts])).toEqual([
      ['sent', 1],
      ['sent', 1],
    ])
    expect(await pushes(unbilled.id)).toEqual([])
  })

  it('waits for the grace period after an hour ends', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const h = pastHour(10)
    await recordUsage(tenantId, h + 30 * MINUTE, 40, 2)
    await runCron(h + HOUR + 4 * MINUTE)
    expect(await received(customer)).toEqual([])
    await runCron(h + HOUR + 5 * MINUTE)
    expect((await received(customer)).map((r) => r.value)).toEqual(['42'])
  })

  it('never sends an hour twice, whether runs follow each other or overlap', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const h = pastHour(12)
    for (let i = 0; i < 5; i++) await recordUsage(tenantId, h + i * HOUR + MINUTE, 10 + i, 1)
    const at = h + 5 * HOUR + 5 * MINUTE
    await Promise.all([runCron(at), runCron(at), runCron(at)])
    await runCron(at)
    await runCron(at + HOUR)
    const got = await received(customer)
    expect(got).toHaveLength(5)
    expect(new Set(got.map((r) => r.identifier)).size).toBe(5)
    expect(got.every((r) => r.isAccepted && !r.isRepeat)).toBe(true)
  })

  it('retries a failed hour on the next run, with the same identifier and value', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const h = pastHour(8)
    await recordUsage(tenantId, h + MINUTE, 60, 40)
    await failNext(customer, 'reject')
    await runCron(h + HOUR + 5 * MINUTE)
    expect(await pushes(tenantId)).toEqual([
      {
        identifier: `${tenantId}:cic_cost_micro_usd:${h / 1000}`,
        value: 100,
        status: 'failed',
        attempts: 1,
        last_error: expect.stringContaining('500'),
        seq: 0,
      },
    ])
    await runCron(h + 2 * HOUR + 5 * MINUTE)
    expect((await pushes(tenantId)).map((p) => [p.status, p.attempts])).toEqual([['sent', 2]])
    expect((await received(customer)).map((r) => [r.identifier, r.value, r.status, r.isAccepted])).toEqual([
      [`${tenantId}:cic_cost_micro_usd:${h / 1000}`, '100', 500, false],
      [`${tenantId}:cic_cost_micro_usd:${h / 1000}`, '100', 200, true],
    ])
  })

  it('re-sends a lost answer verbatim and bills usage that arrived later as a correction, never double', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const h = pastHour(20)
    await recordUsage(tenantId, h + MINUTE, 90, 10)
    await failNext(customer, 'accept_then_fail') // Stripe counted it; we never heard back
    await runCron(h + HOUR + 5 * MINUTE)
    await recordUsage(tenantId, h + 59 * MINUTE, 20, 5) // reaches the ledger after the hour was pushed
    await runCron(h + 2 * HOUR + 5 * MINUTE)
    const base = `${tenantId}:cic_cost_micro_usd:${h / 1000}`
    expect((await received(customer)).map((r) => [r.identifier, r.value, r.isRepeat])).toEqual([
      [base, '100', false],
      [base, '100', true],
      [`${base}:1`, '25', false],
    ])
    const counted = (await received(customer)).filter((r) => r.isAccepted && !r.isRepeat).reduce((n, r) => n + Number(r.value), 0)
    expect(counted).toBe(125)
    expect((await pushes(tenantId)).map((p) => [p.seq, p.value, p.status])).toEqual([
      [0, 100, 'sent'],
      [1, 25, 'sent'],
    ])
  })

  it("leaves a row another run is sending alone, and takes it over once that run's lease ran out", async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const h = pastHour(26)
    await recordUsage(tenantId, h + MINUTE, 5, 5)
    const identifier = `${tenantId}:cic_cost_micro_usd:${h / 1000}`
    // As if a run had claimed the row a moment ago and is waiting for Stripe's answer.
    await env.DB.prepare(`INSERT INTO meter_pushes (identifier, tenant_id, event_name, hour_start, seq, stripe_customer_id, value, status,
        attempts, created_at, last_attempt_at) VALUES (?, ?, 'cic_cost_micro_usd', ?, 0, ?, 10, 'pending', 1, ?, ?)`)
      .bind(identifier, tenantId, h, customer, Date.now(), Date.now())
      .run()
    await runCron(h + HOUR + 5 * MINUTE)
    expect(await received(customer)).toEqual([])
    // That run died without recording an answer: after the lease, the row is re-sent verbatim.
    await env.DB.prepare('UPDATE meter_pushes SET last_attempt_at = ? WHERE identifier = ?')
      .bind(Date.now() - 11 * MINUTE, identifier)
      .run()
    await runCron(h + 2 * HOUR + 5 * MINUTE)
    expect((await received(customer)).map((r) => [r.identifier, r.value])).toEqual([[identifier, '10']])
    expect((await pushes(tenantId)).map((p) => [p.status, p.attempts])).toEqual([['sent', 2]])
  })

  it('bills the tokens of a request that went through the gateway and the usage queue', async () => {
    await registerNode(inject('standins').healthy, ['cic-demo-llm'])
    const { tenantId, customer, key } = await seedCustomerTenant()
    const res = await api(key, '/v1/chat/completions', {
      method: 'POST',
      headers: { 'x-request-id': 'meter-e2e-00001' },
      json: { model: 'cic-demo-llm', messages: [{ role: 'user', content: 'bill me' }], max_tokens: 6 },
    })
    const { usage } = await res.json<{ usage: { total_tokens: number } }>()
    let createdAt: number | undefined
    for (let i = 0; i < 200 && createdAt === undefined; i++) {
      // the queue consumer writes the ledger row
      createdAt = (
        await env.DB.prepare('SELECT created_at FROM usage_events WHERE request_id LIKE ?').bind('meter-e2e-00001/%').first<{ created_at: number }>()
      )?.created_at
      if (createdAt === undefined) await new Promise((r) => setTimeout(r, 25))
    }
    const hour = Math.floor(createdAt! / HOUR) * HOUR
    await runCron(hour + HOUR + 5 * MINUTE)
    expect((await received(customer)).map((r) => [r.identifier, r.value])).toEqual([
      [`${tenantId}:cic_cost_micro_usd:${hour / 1000}`, String(usage.total_tokens)],
    ])
  })

  it('does nothing when Stripe is not configured', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const h = pastHour(30)
    await recordUsage(tenantId, h + MINUTE, 1, 1)
    await runCron(h + HOUR + 5 * MINUTE, { ...stripeEnv, STRIPE_SECRET_KEY: '' })
    expect(await pushes(tenantId)).toEqual([])
    expect(await received(customer)).toEqual([])
  })
})

describe('GET /admin/billing/meter-pushes', () => {
  it('lists what was sent or failed, filtered by tenant and status', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const h = pastHour(40)
    await recordUsage(tenantId, h + MINUTE, 3, 4)
    await failNext(customer, 'reject')
    await runCron(h + HOUR + 5 * MINUTE)
    const res = await admin(`/admin/billing/meter-pushes?tenant_id=${tenantId}&status=failed`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      object: 'list',
      data: [
        expect.objectContaining({
          object: 'meter_push',
          tenant_id: tenantId,
          hour_start: h,
          value: 7,
          status: 'failed',
          attempts: 1,
          stripe_customer_id: customer,
        }),
      ],
    })
    expect((await (await admin(`/admin/billing/meter-pushes?tenant_id=${tenantId}&status=sent`)).json<{ data: unknown[] }>()).data).toEqual([])
  })

  it('answers 400 for an unknown status and 401 without the admin token', async () => {
    expect(await (await admin('/admin/billing/meter-pushes?status=lost')).json()).toMatchObject({ error: { param: 'status', type: 'invalid_request_error' } })
    expect((await call('/admin/billing/meter-pushes')).status).toBe(401)
  })
})
