// The stand-in's Checkout, portal, customers and prices against the real stripe client (Node build), and its
// webhooks checked with stripe-node's own signature verification (webhooks.constructEvent).
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStripeStandin, type StripeStandin } from './server.ts'

const SECRET = 'whsec_standin_checkout_test_0123456789'
let standin: StripeStandin
let stripe: Stripe
let receiver: Server
const received: { payload: string; signature: string }[] = []

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ payload: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['stripe-signature']) })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}')
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/webhooks/stripe`
  standin = await startStripeStandin({ checkout: { webhookUrl, webhookSecret: SECRET } })
  const url = new URL(standin.url)
  stripe = new Stripe('sk_test_standin_0123', { host: url.hostname, port: url.port, protocol: 'http', maxNetworkRetries: 0 })
})
afterAll(async () => {
  await standin.close()
  await new Promise((resolve) => receiver.close(resolve))
})

const proPrice = async () => {
  const prices = await stripe.prices.list({ lookup_keys: ['cic_pro'], active: true })
  expect(prices.data).toHaveLength(1)
  return prices.data[0] as Stripe.Price
}

describe('stripe stand-in: Checkout and the customer portal', () => {
  it('finds prices by lookup key', async () => {
    expect(await proPrice()).toMatchObject({ object: 'price', lookup_key: 'cic_pro', type: 'recurring', recurring: { interval: 'month' } })
    expect((await stripe.prices.list({ lookup_keys: ['cic_nope'] })).data).toEqual([])
  })

  it('completes a subscription Checkout: page, signed webhooks in order, redirect to success_url', async () => {
    const price = await proPrice()
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: price.id, quantity: 1 }],
      customer_email: 'admin@tenant.example',
      client_reference_id: 'ten_abc',
      subscription_data: { metadata: { cic_tenant_id: 'ten_abc', cic_plan: 'pro' } },
      success_url: 'http://console.example/dashboard/tenants/ten_abc/billing?checkout=success&session={CHECKOUT_SESSION_ID}',
      cancel_url: 'http://console.example/dashboard/tenants/ten_abc/billing?checkout=cancel',
    })
    expect(session).toMatchObject({ object: 'checkout.session', status: 'open', mode: 'subscription', url: `${standin.url}/checkout/${session.id}` })
    const page = await fetch(session.url as string)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain(`action="/checkout/${session.id}/complete"`)

    const done = await fetch(`${standin.url}/checkout/${session.id}/complete`, { method: 'POST', redirect: 'manual' })
    expect(done.status).toBe(303)
    expect(done.headers.get('location')).toBe(`http://console.example/dashboard/tenants/ten_abc/billing?checkout=success&session=${session.id}`)

    const events = received.map((r) => stripe.webhooks.constructEvent(r.payload, r.signature, SECRET)) // throws on a bad signature
    expect(events.map((e) => e.type)).toEqual(['customer.created', 'customer.subscription.created', 'checkout.session.completed'])
    const subscription = events[1]?.data.object as Stripe.Subscription
    expect(subscription).toMatchObject({ status: 'active', metadata: { cic_tenant_id: 'ten_abc', cic_plan: 'pro' } })
    expect(subscription.items.data[0]?.price).toMatchObject({ id: price.id, lookup_key: 'cic_pro' })
    const completed = events[2]?.data.object as Stripe.Checkout.Session
    expect(completed).toMatchObject({
      id: session.id,
      status: 'complete',
      payment_status: 'paid',
      subscription: subscription.id,
      customer: subscription.customer,
    })
    expect(completed).not.toHaveProperty('_lineItems')
    expect(standin.webhooks.map((w) => w.status)).toEqual([200, 200, 200])
    expect(() => stripe.webhooks.constructEvent(received[0]?.payload ?? '', received[0]?.signature ?? '', 'whsec_other')).toThrow()

    // Completed sessions cannot be paid twice.
    expect((await fetch(`${standin.url}/checkout/${session.id}/complete`, { method: 'POST', redirect: 'manual' })).status).toBe(409)
    expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('complete')
  })

  it('opens a portal session for a customer; cancelling there sends customer.subscription.deleted', async () => {
    const customer = await stripe.customers.create({ email: 'billing@tenant.example' })
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      line_items: [{ price: 'price_cic_starter', quantity: 1 }],
      success_url: 'http://console.example/ok',
    })
    await fetch(`${standin.url}/checkout/${session.id}/complete`, { method: 'POST', redirect: 'manual' })
    const sub = (await stripe.subscriptions.list({ customer: customer.id })).data[0] as Stripe.Subscription
    expect(sub.status).toBe('active')

    const portal = await stripe.billingPortal.sessions.create({ customer: customer.id, return_url: 'http://console.example/back' })
    expect(portal).toMatchObject({ object: 'billing_portal.session', customer: customer.id, url: `${standin.url}/portal/${portal.id}` })
    const page = await (await fetch(portal.url)).text()
    expect(page).toContain('href="http://console.example/back"')
    const before = received.length
    await fetch(`${standin.url}/portal/${portal.id}/cancel/${sub.id}`, { method: 'POST', redirect: 'manual' })
    const last = stripe.webhooks.constructEvent(received[before]?.payload ?? '', received[before]?.signature ?? '', SECRET)
    expect(last).toMatchObject({ type: 'customer.subscription.deleted', data: { object: { id: sub.id, status: 'canceled' } } })
  })

  it('refuses what Stripe refuses, in Stripe error shape', async () => {
    const base = { mode: 'subscription' as const, line_items: [{ price: 'price_cic_pro', quantity: 1 }], success_url: 'http://console.example/ok' }
    await expect(stripe.checkout.sessions.create({ ...base, customer: 'cus_unknown' })).rejects.toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      param: 'customer',
    })
    await expect(stripe.checkout.sessions.create({ ...base, line_items: [{ price: 'price_nope', quantity: 1 }] })).rejects.toMatchObject({ statusCode: 404 })
    await expect(stripe.checkout.sessions.create({ ...base, line_items: [{ price: 'price_cic_pro' }] })).rejects.toMatchObject({
      statusCode: 400,
      param: 'line_items[0][quantity]',
    })
    const customer = await stripe.customers.create({})
    await expect(stripe.checkout.sessions.create({ ...base, customer: customer.id, customer_email: 'x@example.com' })).rejects.toMatchObject({
      statusCode: 400,
    })
    await expect(stripe.billingPortal.sessions.create({ customer: 'cus_unknown' })).rejects.toMatchObject({ statusCode: 404 })
    const bogus = await fetch(`${standin.url}/v1/checkout/sessions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_x', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'mode=subscription&success_url=http%3A%2F%2Fx&bogus=1',
    })
    expect(bogus.status).toBe(400)
    expect(standin.violations.map((v) => v.message)).toContain('Received unknown parameter: bogus')
    expect((await fetch(`${standin.url}/v1/customers`, { method: 'POST', headers: { authorization: 'Bearer sk_live_x' } })).status).toBe(401)
  })
})
