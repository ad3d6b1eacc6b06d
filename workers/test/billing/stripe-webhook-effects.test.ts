// Each Stripe event type's effect on the tenant (D1 and its admission object) and on the next API call.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { PLANS } from '../../../durable-objects/tenant-gate/plans.ts'
import { api } from '../helpers/gateway.ts'
import {
  deliverOk,
  invoicePaidEvent,
  newCustomerId,
  nowSeconds,
  paymentIntentEvent,
  seedCustomerTenant,
  stripeEvent,
  subscriptionEvent,
  tenantRow,
  webhookRows,
} from '../helpers/stripe-events.ts'
import { admin } from '../helpers/gateway.ts'

/** What the tenant's admission object holds (the authority on the request path): status, and the limits in force. */
async function gateState(tenantId: string) {
  const stored = await runInDurableObject(
    env.TENANT_GATE.getByName(`tenant:${tenantId}`),
    (_instance, state) =>
      state.storage.sql.exec<{ status: string; status_reason: string | null }>('SELECT status, status_reason FROM tenant WHERE id = 1').toArray()[0],
  )
  if (!stored) return null
  const { limits, plan } = await env.TENANT_GATE.getByName(`tenant:${tenantId}`).inspect()
  return { status: stored.status, statusReason: stored.status_reason, plan, limits }
}

describe('payment_intent events', () => {
  it('suspends the tenant on payment_failed: its next API call gets 403 saying payment failed', async () => {
    const { tenantId, customer, key } = await seedCustomerTenant()
    expect((await api(key, '/v1/models')).status).toBe(200)
    expect(await deliverOk(paymentIntentEvent('payment_failed', customer))).toMatchObject({ outcome: 'applied', duplicate: false })
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'suspended', status_reason: expect.stringContaining('payment failed') })
    const res = await api(key, '/v1/models')
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({
      error: { type: 'permission_error', code: 'account_suspended', message: expect.stringMatching(/^This account is suspended: payment failed/) },
    })
  })

  it('reactivates on payment_intent.succeeded, lifting the suspension at once in the admission object', async () => {
    const { tenantId, customer, key } = await seedCustomerTenant()
    const created = nowSeconds()
    await deliverOk(paymentIntentEvent('payment_failed', customer, { created }))
    expect((await api(key, '/v1/models')).status).toBe(403)
    await deliverOk(paymentIntentEvent('succeeded', customer, { created: created + 1 }))
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'active', status_reason: null })
    expect(await gateState(tenantId)).toMatchObject({ status: 'active', statusReason: null })
    expect((await api(key, '/v1/models')).status).toBe(200)
  })

  it('never lifts a suspension an admin made for another reason', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { status: 'suspended', status_reason: 'abuse review' } })
    await deliverOk(paymentIntentEvent('succeeded', customer))
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'suspended', status_reason: 'abuse review' })
  })
})

describe('subscription events', () => {
  it('sets the plan and its limits on customer.subscription.created, in D1 and in the admission object', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    await deliverOk(subscriptionEvent('created', customer, { lookupKey: 'cic_pro' }))
    const row = await tenantRow(tenantId)
    expect(row?.plan).toBe('pro')
    expect(JSON.parse(row!.limits)).toEqual({}) // the plan's own limits, no overrides
    expect((await gateState(tenantId))?.limits).toEqual(PLANS.pro)
  })

  it('changes plan on customer.subscription.updated (subscription metadata cic_plan wins over the price)', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const subscriptionId = `sub_${crypto.randomUUID().slice(0, 8)}`
    const created = nowSeconds()
    await deliverOk(subscriptionEvent('created', customer, { subscriptionId, lookupKey: 'starter', created }))
    await deliverOk(
      subscriptionEvent('updated', customer, { subscriptionId, lookupKey: 'starter', metadata: { cic_plan: 'enterprise' }, created: created + 5 }),
    )
    expect(await tenantRow(tenantId)).toMatchObject({ plan: 'enterprise', limits: '{}' })
    expect((await gateState(tenantId))?.limits).toEqual(PLANS.enterprise)
  })

  it('keeps the plan when the subscription names no known plan', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    await deliverOk(subscriptionEvent('created', customer, { lookupKey: 'gold_tier' }))
    expect(await tenantRow(tenantId)).toMatchObject({ plan: 'default', status: 'active' })
  })

  it('suspends on customer.subscription.deleted and refuses the next API call', async () => {
    const { tenantId, customer, key } = await seedCustomerTenant()
    const subscriptionId = `sub_${crypto.randomUUID().slice(0, 8)}`
    const created = nowSeconds()
    await deliverOk(subscriptionEvent('created', customer, { subscriptionId, lookupKey: 'pro', created }))
    await deliverOk(subscriptionEvent('deleted', customer, { subscriptionId, lookupKey: 'pro', created: created + 60 }))
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'suspended', status_reason: 'the subscription has ended' })
    const res = await api(key, '/v1/models')
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ error: { message: 'This account is suspended: the subscription has ended.' } })
  })

  it('stays active when another subscription of the customer is still live', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const created = nowSeconds()
    await deliverOk(subscriptionEvent('created', customer, { subscriptionId: 'sub_old1', lookupKey: 'starter', created }))
    await deliverOk(subscriptionEvent('created', customer, { subscriptionId: 'sub_new1', lookupKey: 'pro', created: created + 10 }))
    await deliverOk(subscriptionEvent('deleted', customer, { subscriptionId: 'sub_old1', lookupKey: 'starter', created: created + 20 }))
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'active', plan: 'pro' })
  })

  it('maps a new customer to a tenant from customer.subscription.created metadata cic_tenant_id', async () => {
    const created = await admin('/admin/tenants', { method: 'POST', json: { name: 'unlinked' } })
    const { id: tenantId } = await created.json<{ id: string }>()
    const customer = newCustomerId()
    await deliverOk(subscriptionEvent('created', customer, { lookupKey: 'starter', metadata: { cic_tenant_id: tenantId } }))
    expect(await tenantRow(tenantId)).toMatchObject({ stripe_customer_id: customer, plan: 'starter' })
    // From now on the customer's events reach this tenant.
    await deliverOk(paymentIntentEvent('payment_failed', customer))
    expect((await tenantRow(tenantId))?.status).toBe('suspended')
  })
})

describe('invoice and other events', () => {
  it('marks the invoice usage period billed on invoice.payment_succeeded', async () => {
    const { tenantId, customer } = await seedCustomerTenant()
    const hour = 3_600_000
    const start = Math.floor(Date.now() / hour) * hour - 48 * hour
    for (const [h, identifier] of [
      [start, 'in-period'],
      [start + 47 * hour, 'last-hour'],
      [start + 48 * hour, 'after-period'],
    ] as const) {
      await env.DB.prepare(`INSERT INTO meter_pushes (identifier, tenant_id, event_name, hour_start, seq, stripe_customer_id, value, status, created_at)
        VALUES (?, ?, 'cic_tokens', ?, 0, ?, 10, 'sent', ?)`)
        .bind(`${tenantId}:${identifier}`, tenantId, h, customer, Date.now())
        .run()
    }
    const event = invoicePaidEvent(customer, start / 1000, (start + 48 * hour) / 1000, { invoiceId: 'in_test_period' })
    expect(await deliverOk(event)).toMatchObject({ outcome: 'applied' })
    expect(
      await env.DB.prepare('SELECT tenant_id, period_start, period_end, amount_paid FROM billed_periods WHERE invoice_id = ?').bind('in_test_period').first(),
    ).toEqual({ tenant_id: tenantId, period_start: start, period_end: start + 48 * hour, amount_paid: 4200 })
    const pushes = await env.DB.prepare('SELECT identifier, invoice_id FROM meter_pushes WHERE tenant_id = ? ORDER BY hour_start').bind(tenantId).all()
    expect(pushes.results).toEqual([
      { identifier: `${tenantId}:in-period`, invoice_id: 'in_test_period' },
      { identifier: `${tenantId}:last-hour`, invoice_id: 'in_test_period' },
      { identifier: `${tenantId}:after-period`, invoice_id: null },
    ])
  })

  it('records and acknowledges an event for an unknown customer', async () => {
    const event = paymentIntentEvent('payment_failed', newCustomerId())
    expect(await deliverOk(event)).toEqual({ received: true, id: event.id, outcome: 'unknown_customer', duplicate: false })
    expect((await webhookRows(event.id)).results).toEqual([
      { id: event.id, type: 'payment_intent.payment_failed', outcome: 'unknown_customer', tenant_id: null },
    ])
  })

  it('stores and acknowledges any other event type', async () => {
    const event = stripeEvent('customer.created', { id: newCustomerId(), object: 'customer', email: 'a@example.com' })
    expect(await deliverOk(event)).toMatchObject({ outcome: 'ignored' })
    const stored = await env.DB.prepare('SELECT payload FROM webhook_events WHERE id = ?').bind(event.id).first<{ payload: string }>()
    expect(JSON.parse(stored!.payload)).toEqual(event)
  })
})
