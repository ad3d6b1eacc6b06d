// Test helpers for Stripe webhooks: realistic event payloads (the fields Stripe sends for API 2026-10-28), signed
// with the real stripe client's generateTestHeaderStringAsync and POSTed to the Worker like Stripe would.
import { env } from 'cloudflare:workers'
import Stripe from 'stripe'
import { admin, call } from './gateway.ts'

export const WEBHOOK_SECRET = 'whsec_cic_vitest_0123456789abcdef' // vitest.config.ts binding
const stripe = new Stripe('sk_test_cic_vitest_0123456789')

export const nowSeconds = () => Math.floor(Date.now() / 1000)
const rand = () => crypto.randomUUID().replaceAll('-', '').slice(0, 14)
export const newCustomerId = () => `cus_${rand()}`

type EventOptions = { id?: string; created?: number }

export function stripeEvent(type: string, object: Record<string, unknown>, opts: EventOptions = {}) {
  return {
    id: opts.id ?? `evt_${rand()}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: opts.created ?? nowSeconds(),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  }
}

export function paymentIntentEvent(outcome: 'succeeded' | 'payment_failed', customer: string, opts: EventOptions & { intentId?: string } = {}) {
  return stripeEvent(
    `payment_intent.${outcome}`,
    {
      id: opts.intentId ?? `pi_${rand()}`,
      object: 'payment_intent',
      amount: 2000,
      currency: 'usd',
      customer,
      status: outcome === 'succeeded' ? 'succeeded' : 'requires_payment_method',
      last_payment_error: outcome === 'succeeded' ? null : { code: 'card_declined', message: 'Your card was declined.' },
    },
    opts,
  )
}

type SubscriptionOptions = EventOptions & { subscriptionId?: string; status?: string; lookupKey?: string | null; metadata?: Record<string, string> }

export function subscriptionEvent(action: 'created' | 'updated' | 'deleted', customer: string, opts: SubscriptionOptions = {}) {
  const subscriptionId = opts.subscriptionId ?? `sub_${rand()}`
  return stripeEvent(
    `customer.subscription.${action}`,
    {
      id: subscriptionId,
      object: 'subscription',
      customer,
      status: opts.status ?? (action === 'deleted' ? 'canceled' : 'active'),
      metadata: opts.metadata ?? {},
      items: {
        object: 'list',
        data: [
          {
            id: `si_${rand()}`,
            object: 'subscription_item',
            price: { id: `price_${rand()}`, object: 'price', lookup_key: opts.lookupKey ?? null, metadata: {} },
          },
        ],
      },
    },
    opts,
  )
}

export function invoicePaidEvent(customer: string, periodStart: number, periodEnd: number, opts: EventOptions & { invoiceId?: string } = {}) {
  return stripeEvent(
    'invoice.payment_succeeded',
    {
      id: opts.invoiceId ?? `in_${rand()}`,
      object: 'invoice',
      customer,
      status: 'paid',
      period_start: periodStart,
      period_end: periodEnd,
      amount_paid: 4200,
      currency: 'usd',
    },
    opts,
  )
}

export async function signedHeader(payload: string, opts: { timestamp?: number; secret?: string } = {}): Promise<string> {
  return stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: opts.secret ?? WEBHOOK_SECRET,
    ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
  })
}

/** POSTs an event the way Stripe does: the exact JSON string that was signed, with its Stripe-Signature. */
export async function deliver(event: object, opts: { timestamp?: number; secret?: string } = {}): Promise<Response> {
  const payload = JSON.stringify(event, null, 2)
  return call('/api/webhooks/stripe', {
    method: 'POST',
    body: payload,
    headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': await signedHeader(payload, opts) },
  })
}

export async function deliverOk(event: object): Promise<{ outcome: string; duplicate: boolean }> {
  const res = await deliver(event)
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`)
  return res.json()
}

/** A tenant mapped to a fresh Stripe customer, with one API key. */
export async function seedCustomerTenant(): Promise<{ tenantId: string; customer: string; key: string }> {
  const customer = newCustomerId()
  const t = await admin('/admin/tenants', { method: 'POST', json: { name: `billing-${customer}`, stripe_customer_id: customer } })
  if (t.status !== 201) throw new Error(`tenant: ${t.status} ${await t.text()}`)
  const { id } = await t.json<{ id: string }>()
  const k = await admin(`/admin/tenants/${id}/keys`, { method: 'POST', json: {} })
  const { key } = await k.json<{ key: string }>()
  return { tenantId: id, customer, key }
}

export type TenantState = { status: string; status_reason: string | null; plan: string; limits: string; stripe_customer_id: string | null }
export const tenantRow = (id: string) =>
  env.DB.prepare('SELECT status, status_reason, plan, limits, stripe_customer_id FROM tenants WHERE id = ?').bind(id).first<TenantState>()

export const webhookRows = (id: string) =>
  env.DB.prepare('SELECT id, type, outcome, tenant_id FROM webhook_events WHERE id = ?')
    .bind(id)
    .all<{ id: string; type: string; outcome: string; tenant_id: string | null }>()
