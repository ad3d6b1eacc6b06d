// Stripe events that used to be lost: a signed event whose object fails our schema is stored as `invalid` and
// acknowledged (not 400, which Stripe retries for days), and events stored as `unknown_customer` are applied, in
// order, once the customer is linked to a tenant (customer.subscription.created's cic_tenant_id, or the admin API).
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { replayUnknownCustomerEvents } from '../../src/services/billing/stripe-webhook.ts'
import { admin, api } from '../helpers/gateway.ts'
import {
  deliver,
  deliverOk,
  newCustomerId,
  nowSeconds,
  paymentIntentEvent,
  stripeEvent,
  subscriptionEvent,
  tenantRow,
  webhookRows,
} from '../helpers/stripe-events.ts'

/** A tenant with no Stripe customer yet, and one API key. */
async function unlinkedTenant(): Promise<{ tenantId: string; key: string }> {
  const t = await admin('/admin/tenants', { method: 'POST', json: { name: `unlinked-${crypto.randomUUID()}` } })
  const { id } = await t.json<{ id: string }>()
  const { key } = await (await admin(`/admin/tenants/${id}/keys`, { method: 'POST', json: {} })).json<{ key: string }>()
  return { tenantId: id, key }
}

const outcomeOf = async (eventId: string) => (await webhookRows(eventId)).results[0]

describe('a signed event that fails our schema', () => {
  it('is stored as invalid and answered 200, once, with an error log line', async () => {
    const customer = newCustomerId()
    // A known type whose object has no id: our schema needs one to act on it.
    const event = stripeEvent('payment_intent.payment_failed', { object: 'payment_intent', customer, amount: 100 })
    const spy = vi.spyOn(console, 'log')
    let res: Response
    let lines: string[]
    try {
      res = await deliver(event)
    } finally {
      lines = spy.mock.calls.map(([line]) => String(line)).filter((l) => l.includes('stripe_webhook_invalid_event'))
      spy.mockRestore()
    }
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ received: true, id: event.id, outcome: 'invalid', duplicate: false })
    expect(await outcomeOf(event.id)).toEqual({ id: event.id, type: 'payment_intent.payment_failed', outcome: 'invalid', tenant_id: null })
    expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ level: 'error', eventId: event.id, error: expect.stringContaining('id') })])

    const again = await deliver(event)
    expect(again.status).toBe(200)
    expect(await again.json()).toMatchObject({ outcome: 'invalid', duplicate: true })
    expect((await webhookRows(event.id)).results).toHaveLength(1)
  })

  it('changes no tenant', async () => {
    const { tenantId, key } = await unlinkedTenant()
    const customer = newCustomerId()
    await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { stripe_customer_id: customer } })
    const event = stripeEvent('invoice.payment_succeeded', { id: 'in_bad', object: 'invoice', customer, period_start: 'yesterday' })
    expect(await deliverOk(event)).toMatchObject({ outcome: 'invalid' })
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'active' })
    expect((await api(key, '/v1/models')).status).toBe(200)
  })
})

describe('unknown_customer events once the customer is linked', () => {
  it('applies a payment failure Stripe sent before the subscription linked the customer', async () => {
    const { tenantId, key } = await unlinkedTenant()
    const customer = newCustomerId()
    const t = nowSeconds()
    const failed = paymentIntentEvent('payment_failed', customer, { created: t - 30 })
    expect(await deliverOk(failed)).toMatchObject({ outcome: 'unknown_customer' })
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'active' })

    const link = subscriptionEvent('created', customer, { created: t, metadata: { cic_tenant_id: tenantId }, lookupKey: 'cic_pro' })
    expect(await deliverOk(link)).toMatchObject({ outcome: 'applied' })
    expect(await tenantRow(tenantId)).toMatchObject({
      stripe_customer_id: customer,
      plan: 'pro',
      status: 'suspended',
      status_reason: expect.stringContaining('payment failed'),
    })
    expect(await outcomeOf(failed.id)).toMatchObject({ outcome: 'applied', tenant_id: tenantId })
    expect((await api(key, '/v1/models')).status).toBe(403) // the admission object got the replayed suspension too
  })

  it('applies them when an admin links the customer, and answers the PATCH with the tenant as they left it', async () => {
    const { tenantId, key } = await unlinkedTenant()
    const customer = newCustomerId()
    const failed = paymentIntentEvent('payment_failed', customer, { created: nowSeconds() - 30 })
    expect(await deliverOk(failed)).toMatchObject({ outcome: 'unknown_customer' })

    const res = await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { stripe_customer_id: customer } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ stripe_customer_id: customer, status: 'suspended', status_reason: expect.stringContaining('payment failed') })
    expect(await outcomeOf(failed.id)).toMatchObject({ outcome: 'applied', tenant_id: tenantId })
    expect((await api(key, '/v1/models')).status).toBe(403)
  })

  it('applies them when a tenant is created with the customer already known to Stripe', async () => {
    const customer = newCustomerId()
    const failed = paymentIntentEvent('payment_failed', customer, { created: nowSeconds() - 30 })
    expect(await deliverOk(failed)).toMatchObject({ outcome: 'unknown_customer' })
    const res = await admin('/admin/tenants', { method: 'POST', json: { name: `linked-${crypto.randomUUID()}`, stripe_customer_id: customer } })
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ status: 'suspended' })
  })

  it("keeps the ordering rules: replayed in created order, and older than the object's last event is stale", async () => {
    const { tenantId, key } = await unlinkedTenant()
    const customer = newCustomerId()
    const t = nowSeconds()
    const subscriptionId = `sub_${crypto.randomUUID().slice(0, 8)}`
    // Delivered out of order, all before the link: the later success must win over the earlier failure.
    const succeeded = paymentIntentEvent('succeeded', customer, { created: t - 10 })
    const failed = paymentIntentEvent('payment_failed', customer, { created: t - 20 })
    const olderUpdate = subscriptionEvent('updated', customer, { created: t - 5, subscriptionId, lookupKey: 'starter' })
    for (const e of [succeeded, failed, olderUpdate]) expect(await deliverOk(e)).toMatchObject({ outcome: 'unknown_customer' })

    await deliverOk(subscriptionEvent('created', customer, { created: t, subscriptionId, metadata: { cic_tenant_id: tenantId }, lookupKey: 'cic_pro' }))
    expect(await tenantRow(tenantId)).toMatchObject({ status: 'active', plan: 'pro' })
    expect(await outcomeOf(failed.id)).toMatchObject({ outcome: 'applied', tenant_id: tenantId })
    expect(await outcomeOf(succeeded.id)).toMatchObject({ outcome: 'applied', tenant_id: tenantId })
    expect(await outcomeOf(olderUpdate.id)).toMatchObject({ outcome: 'stale', tenant_id: tenantId })
    expect((await api(key, '/v1/models')).status).toBe(200)
  })

  it('applies each stored event once, however often the replay runs', async () => {
    const { tenantId } = await unlinkedTenant()
    const customer = newCustomerId()
    const t = nowSeconds()
    const failed = paymentIntentEvent('payment_failed', customer, { created: t - 30 })
    await deliverOk(failed)
    await deliverOk(subscriptionEvent('created', customer, { created: t, metadata: { cic_tenant_id: tenantId } }))
    const audits = async () =>
      (await env.DB.prepare('SELECT count(*) AS n FROM audit_log WHERE actor = ?').bind(`stripe:${failed.id}`).first<{ n: number }>())?.n
    expect(await audits()).toBe(1)
    expect(await Promise.all([replayUnknownCustomerEvents(env, tenantId), replayUnknownCustomerEvents(env, tenantId)])).toEqual([
      { replayed: 0 },
      { replayed: 0 },
    ])
    expect(await audits()).toBe(1)
  })

  it("replays nothing for a tenant without a customer, and leaves other customers' events alone", async () => {
    const { tenantId } = await unlinkedTenant()
    const other = paymentIntentEvent('payment_failed', newCustomerId())
    await deliverOk(other)
    expect(await replayUnknownCustomerEvents(env, tenantId)).toEqual({ replayed: 0 })
    const customer = newCustomerId()
    await deliverOk(subscriptionEvent('created', customer, { metadata: { cic_tenant_id: tenantId } }))
    expect(await outcomeOf(other.id)).toMatchObject({ outcome: 'unknown_customer', tenant_id: null })
  })
})
