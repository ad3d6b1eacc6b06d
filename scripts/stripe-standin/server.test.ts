// The stand-in against the real stripe client (Node build): it accepts what the client sends for a valid meter
// event, rejects what Stripe would reject, and injects failures on demand.
import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStripeStandin, type StripeStandin } from './server.ts'

let standin: StripeStandin
let stripe: Stripe
const hourAgo = () => Math.floor(Date.now() / 1000) - 3600

beforeAll(async () => {
  standin = await startStripeStandin()
  const url = new URL(standin.url)
  stripe = new Stripe('sk_test_standin_0123', { host: url.hostname, port: url.port, protocol: 'http', maxNetworkRetries: 0 })
})
afterAll(() => standin.close())

type Params = { payload?: Record<string, string>; identifier?: string; timestamp?: number }
const send = (customer: string, extra: Params = {}) =>
  stripe.billing.meterEvents.create({
    event_name: 'cic_tokens',
    payload: { stripe_customer_id: customer, value: '1234' },
    identifier: `id-${customer}`,
    timestamp: hourAgo(),
    ...extra,
  })

describe('stripe stand-in', () => {
  it('accepts a valid meter event from the real client and records it', async () => {
    const timestamp = hourAgo() // fixed once: two calls may straddle a second
    const event = await send('cus_valid1', { timestamp })
    expect(event).toMatchObject({ object: 'billing.meter_event', identifier: 'id-cus_valid1', payload: { value: '1234' } })
    expect(standin.receipts.filter((r) => r.customer === 'cus_valid1')).toEqual([
      {
        identifier: 'id-cus_valid1',
        eventName: 'cic_tokens',
        customer: 'cus_valid1',
        value: '1234',
        timestamp,
        isAccepted: true,
        isRepeat: false,
        status: 200,
      },
    ])
  })

  it.each([
    ['a fractional value', { payload: { stripe_customer_id: 'cus_bad1', value: '1.5' } }, 'payload[value]'],
    ['a timestamp older than 35 days', { payload: { stripe_customer_id: 'cus_bad2', value: '1' }, timestamp: hourAgo() - 36 * 86_400 }, 'timestamp'],
    ['no identifier', { payload: { stripe_customer_id: 'cus_bad3', value: '1' }, identifier: '' }, 'identifier'],
  ])('rejects %s with a Stripe invalid_request_error naming the param', async (_, extra, param) => {
    const err = await send('cus_unused', extra).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError)
    expect(err).toMatchObject({ statusCode: 400, param })
    expect(standin.violations.at(-1)).toMatchObject({ status: 400, path: '/v1/billing/meter_events' })
  })

  it('refuses a live-mode key', async () => {
    const url = new URL(standin.url)
    const live = new Stripe('sk_live_nope', { host: url.hostname, port: url.port, protocol: 'http', maxNetworkRetries: 0 })
    const err = await live.billing.meterEvents
      .create({ event_name: 'x', payload: { stripe_customer_id: 'cus_live', value: '1' }, identifier: 'l', timestamp: hourAgo() })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ statusCode: 401 })
  })

  it('fails on demand, and refuses a re-sent accepted identifier as Stripe does (400, marked a repeat)', async () => {
    standin.fail({ customer: 'cus_flaky1', status: 500, times: 1, mode: 'accept_then_fail' })
    await expect(send('cus_flaky1')).rejects.toMatchObject({ statusCode: 500 })
    // The re-send of an identifier Stripe already counted: refused as Stripe refuses it, not counted again.
    const repeat = await send('cus_flaky1').catch((e: unknown) => e)
    expect(repeat).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', message: 'An event already exists with identifier id-cus_flaky1.' })
    expect(standin.receipts.filter((r) => r.customer === 'cus_flaky1').map((r) => [r.status, r.isAccepted, r.isRepeat])).toEqual([
      [500, true, false],
      [400, false, true], // Stripe refuses a held identifier: "An event already exists with identifier …"
    ])
  })

  it('records unexpected routes as violations', async () => {
    const res = await fetch(`${standin.url}/v1/subscription_items/si_1/usage_records`, { method: 'POST' })
    expect(res.status).toBe(404)
    expect(standin.violations.at(-1)).toMatchObject({ path: '/v1/subscription_items/si_1/usage_records', status: 404 })
  })
})
