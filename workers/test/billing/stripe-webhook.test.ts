// The Stripe webhook's guarantees: signature and timestamp checks, exactly-once under redelivery and concurrency,
// order independence, and recovery when the admission object could not be reached.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { parseBillingEvent } from '../../src/schemas/stripe.ts'
import { applyStripeEvent } from '../../src/services/billing/stripe-webhook.ts'
import { admin, api, call } from '../helpers/gateway.ts'
import {
  deliver,
  deliverOk,
  nowSeconds,
  paymentIntentEvent,
  seedCustomerTenant,
  signedHeader,
  subscriptionEvent,
  tenantRow,
  webhookRows,
} from '../helpers/stripe-events.ts'

const auditCount = async (eventId: string) =>
  (await env.DB.prepare('SELECT count(*) AS n FROM audit_log WHERE actor = ?').bind(`stripe:${eventId}`).first<{ n: number }>())?.n

describe('signature', () => {
  it.each([
    ['no Stripe-Signature header', async (_payload: string) => ({ 'content-type': 'application/json' }), 'missing_signature'],
    [
      'a signature made with another secret',
      async (payload: string) => ({ 'stripe-signature': await signedHeader(payload, { secret: 'whsec_someone_else_0123456789' }) }),
      'invalid_signature',
    ],
    [
      'a signature over another body',
      async (payload: string) => ({ 'stripe-signature': await signedHeader(payload.replace('payment_failed', 'succeeded')) }),
      'invalid_signature',
    ],
    [
      'a timestamp older than 300 s',
      async (payload: string) => ({ 'stripe-signature': await signedHeader(payload, { timestamp: nowSeconds() - 301 }) }),
      'invalid_signature',
    ],
    ['a garbage header', async () => ({ 'stripe-signature': 't=abc,v1=zzz' }), 'invalid_signature'],
  ])('answers 400 and changes nothing for %s', async (_, headers, code) => {
    const { tenantId, customer } = await seedCustomerTenant()
    const event = paymentIntentEvent('payment_failed', customer)
    const payload = JSON.stringify(event)
    const res = await call('/api/webhooks/stripe', { method: 'POST', body: payload, headers: await headers(payload) })
    expect(res.status).toBe(400)
    expect(res.headers.get('x-request-id')).toMatch(/^req_/)
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code } })
    expect((await webhookRows(event.id)).results).toEqual([])
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'active' })
  })

  it('accepts a timestamp within the 300 s tolerance', async () => {
    const { customer } = await seedCustomerTenant()
    expect((await deliver(paymentIntentEvent('succeeded', customer), { timestamp: nowSeconds() - 250 })).status).toBe(200)
  })

  it('rejects a correctly signed body that is not a Stripe event, storing nothing', async () => {
    const res = await deliver({ id: 'evt_not_an_event', hello: 'world' })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_event' } })
    expect((await webhookRows('evt_not_an_event')).results).toEqual([])
  })

  it('needs no API key or admin token (the signature is the authentication)', async () => {
    const { customer } = await seedCustomerTenant()
    const res = await deliver(paymentIntentEvent('succeeded', customer))
    expect(res.status).toBe(200)
  })
})

describe('idempotency', () => {
  it('treats a redelivery as a no-op: one stored event, one audit row, no second effect', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const event = paymentIntentEvent('payment_failed', customer)
    expect(await deliverOk(event)).toMatchObject({ outcome: 'applied', duplicate: false })
    // An admin overrides the suspension; a redelivery of the old event must not suspend again.
    await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { status: 'active' } })
    expect(await deliverOk(event)).toMatchObject({ outcome: 'applied', duplicate: true })
    expect((await tenantRow(tenantId))?.status).toBe('active')
    expect((await webhookRows(event.id)).results).toHaveLength(1)
    expect(await auditCount(event.id)).toBe(1)
  })

  it('applies concurrent deliveries of the same event exactly once', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const event = subscriptionEvent('created', customer, { lookupKey: 'pro' })
    const results = await Promise.all([deliverOk(event), deliverOk(event), deliverOk(event)])
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1)
    expect((await webhookRows(event.id)).results).toHaveLength(1)
    expect(await auditCount(event.id)).toBe(1)
    expect((await tenantRow(tenantId))?.plan).toBe('pro')
  })

  it('keeps both effects when different events for one tenant arrive at once', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const created = nowSeconds()
    await Promise.all([
      deliverOk(subscriptionEvent('created', customer, { lookupKey: 'starter', created })),
      deliverOk(paymentIntentEvent('payment_failed', customer, { created })),
      deliverOk(subscriptionEvent('created', customer, { lookupKey: 'pro', created: created + 1 })),
    ])
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'suspended', plan: 'pro' })
  })
})

describe('out-of-order delivery', () => {
  it('skips an older payment event that arrives after a newer one, but still records it', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const created = nowSeconds()
    await deliverOk(paymentIntentEvent('payment_failed', customer, { created: created + 30 }))
    const late = paymentIntentEvent('succeeded', customer, { created })
    expect(await deliverOk(late)).toMatchObject({ outcome: 'stale' })
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'suspended' })
    expect((await webhookRows(late.id)).results).toEqual([{ id: late.id, type: 'payment_intent.succeeded', outcome: 'stale', tenant_id: tenantId }])
  })

  it('never moves a subscription back to an older plan', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const created = nowSeconds()
    const subscriptionId = 'sub_ordered01'
    await deliverOk(subscriptionEvent('updated', customer, { subscriptionId, lookupKey: 'pro', created: created + 10 }))
    expect(await deliverOk(subscriptionEvent('created', customer, { subscriptionId, lookupKey: 'starter', created }))).toMatchObject({ outcome: 'stale' })
    expect(await tenantRow(tenantId)).toMatchObject({ plan: 'pro', status: 'active' })
  })

  it('does not resurrect a deleted subscription from a late update', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const created = nowSeconds()
    const subscriptionId = 'sub_ordered02'
    await deliverOk(subscriptionEvent('deleted', customer, { subscriptionId, lookupKey: 'pro', created: created + 10 }))
    await deliverOk(subscriptionEvent('updated', customer, { subscriptionId, lookupKey: 'pro', created }))
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'suspended', status_reason: 'the subscription has ended' })
  })
})

describe('admission object sync', () => {
  it('answers 500 when the admission object is unreachable, and the redelivery re-syncs it from D1', async () => {
    const { tenantId, customer, key } = await seedCustomerTenant()
    expect((await api(key, '/v1/models')).status).toBe(200)
    const event = paymentIntentEvent('payment_failed', customer)
    const parsed = parseBillingEvent(event)
    if (!parsed.ok) throw new Error(parsed.error)
    const unreachable = { getByName: () => ({ configure: () => Promise.reject(new Error('object unreachable')) }) }
    const brokenEnv: Env = Object.create(env, { TENANT_GATE: { value: unreachable } })
    await expect(applyStripeEvent(brokenEnv, parsed.event, JSON.stringify(event), 'req_test')).rejects.toThrow('object unreachable')
    // D1 has the change, the admission object does not (yet): the route would have answered 500.
    expect((await tenantRow(tenantId))?.status).toBe('suspended')
    expect((await api(key, '/v1/models')).status).toBe(200)
    // Stripe redelivers: a duplicate, which configures the object from D1.
    expect(await deliverOk(event)).toMatchObject({ duplicate: true })
    expect((await api(key, '/v1/models')).status).toBe(403)
  })
})
