// The stand-in's Checkout, Customer Portal, customers and prices (what the console's billing page uses), in Stripe's
// wire format (stripe-node 23 types, API version below). Completing a Checkout on its page creates the customer
// and the subscription and sends the webhooks Stripe sends, signed with the endpoint secret (Stripe-Signature
// t=…,v1=HMAC-SHA256), to the gateway's webhook route. Meter events stay in server.ts (billing helper's part).
import { createHmac, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { checkoutPage, portalPage } from './checkout-pages.ts'
import { type FormObject, parseStripeForm, str, stringMap } from './form-params.ts'

/** stripe-node 23.1.0's pinned version (node_modules/stripe/esm/apiVersion.js): what its events carry. */
export const STANDIN_API_VERSION = '2026-10-28.endive'
const SUBSCRIPTION_PERIOD_S = 30 * 86_400

export type CheckoutOptions = {
  /** Where completed Checkouts send their events (the gateway's POST /api/webhooks/stripe); none: not sent. */
  webhookUrl?: string
  /** The endpoint's signing secret (the gateway's STRIPE_WEBHOOK_SECRET). */
  webhookSecret?: string
  /** Plans sold; each gets a monthly price with lookup key `cic_<plan>` (how the console finds it). */
  plans?: string[]
}
export type WebhookDelivery = { eventId: string; type: string; status: number | null; error: string | null; objectId: string }
type Json = Record<string, unknown>
type Send = (res: ServerResponse, status: number, value: unknown) => void

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`
const nowS = () => Math.floor(Date.now() / 1000)

/** Stripe's header: `t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<payload>" keyed with the whole whsec_ secret>`. */
export function stripeSignature(payload: string, secret: string, timestampS: number): string {
  return `t=${timestampS},v1=${createHmac('sha256', secret).update(`${timestampS}.${payload}`).digest('hex')}`
}

const CHECKOUT_PARAMS = new Set([
  'mode',
  'line_items',
  'success_url',
  'cancel_url',
  'customer',
  'customer_email',
  'client_reference_id',
  'metadata',
  'subscription_data',
  'expand',
  'allow_promotion_codes',
  'billing_address_collection',
  'customer_update',
  'locale',
  'payment_method_types',
  'automatic_tax',
  'tax_id_collection',
])

/** `onViolation`: a request Stripe would refuse (the server lists them at GET /_standin/violations). */
export function createCheckout(
  options: CheckoutOptions,
  baseUrl: () => string,
  onViolation: (v: { method: string; path: string; status: number; message: string }) => void,
) {
  const customers = new Map<string, Json>()
  const prices = new Map<string, Json>()
  const sessions = new Map<string, Json>()
  const subscriptions = new Map<string, Json>()
  const portals = new Map<string, Json>()
  const deliveries: WebhookDelivery[] = []
  for (const [i, plan] of (options.plans ?? ['starter', 'pro']).entries()) {
    const priceId = `price_cic_${plan}`
    prices.set(priceId, {
      id: priceId,
      object: 'price',
      active: true,
      billing_scheme: 'per_unit',
      created: nowS(),
      currency: 'usd',
      livemode: false,
      lookup_key: `cic_${plan}`,
      metadata: { cic_plan: plan },
      nickname: `CIC ${plan}`,
      product: `prod_cic_${plan}`,
      recurring: { interval: 'month', interval_count: 1, usage_type: 'licensed', meter: null, trial_period_days: null },
      tax_behavior: 'unspecified',
      type: 'recurring',
      unit_amount: (i + 1) * 2900,
      unit_amount_decimal: String((i + 1) * 2900),
    })
  }

  const invalid = (send: Send, res: ServerResponse, message: string, param: string | null = null, code = 'parameter_invalid') =>
    send(res, 400, { error: { type: 'invalid_request_error', code, param, message } })
  const missing = (send: Send, res: ServerResponse, what: string, value: string, param: string | null = null) =>
    send(res, 404, { error: { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such ${what}: '${value}'` } })

  function newCustomer(params: { email: string | null; name?: string | null; metadata?: Record<string, string> }): Json {
    const customer = {
      id: id('cus'),
      object: 'customer',
      address: null,
      balance: 0,
      created: nowS(),
      currency: null,
      default_source: null,
      delinquent: false,
      description: null,
      email: params.email,
      invoice_prefix: randomBytes(4).toString('hex').toUpperCase(),
      livemode: false,
      metadata: params.metadata ?? {},
      name: params.name ?? null,
      phone: null,
      preferred_locales: [],
      shipping: null,
      tax_exempt: 'none',
    }
    customers.set(customer.id, customer)
    return customer
  }

  async function sendEvent(type: string, object: Json): Promise<void> {
    const event = {
      id: id('evt'),
      object: 'event',
      api_version: STANDIN_API_VERSION,
      created: nowS(),
      data: { object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    }
    const delivery: WebhookDelivery = { eventId: event.id, type, status: null, error: null, objectId: String(object.id) }
    deliveries.push(delivery)
    if (!options.webhookUrl || !options.webhookSecret) {
      delivery.error = 'no webhook endpoint configured'
      return
    }
    const payload = JSON.stringify(event, null, 2) // Stripe sends pretty-printed JSON; the signature covers these bytes
    try {
      const res = await fetch(options.webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': stripeSignature(payload, options.webhookSecret, nowS()),
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        },
        body: payload,
      })
      delivery.status = res.status
      if (!res.ok) delivery.error = (await res.text()).slice(0, 500)
    } catch (err) {
      delivery.error = String(err)
    }
  }

  function createSession(params: FormObject, send: Send, res: ServerResponse): void {
    for (const key of Object.keys(params)) if (!CHECKOUT_PARAMS.has(key)) return invalid(send, res, `Received unknown parameter: ${key}`, key)
    const mode = str(params.mode)
    if (mode !== 'subscription') return invalid(send, res, 'The stand-in implements Checkout in mode `subscription` only.', 'mode')
    const successUrl = str(params.success_url)
    if (!successUrl || !/^https?:\/\//.test(successUrl)) return invalid(send, res, 'Missing required param: success_url.', 'success_url', 'parameter_missing')
    const customer = str(params.customer)
    const customerEmail = str(params.customer_email)
    if (customer && customerEmail) return invalid(send, res, 'You may only specify one of these parameters: customer, customer_email.', 'customer')
    if (customer && !customers.has(customer)) return missing(send, res, 'customer', customer, 'customer')
    const items = Array.isArray(params.line_items) ? params.line_items : []
    if (items.length === 0) return invalid(send, res, 'Missing required param: line_items.', 'line_items', 'parameter_missing')
    const lineItems: { price: Json; quantity: number }[] = []
    for (const [i, item] of items.entries()) {
      const fields = typeof item === 'object' && !Array.isArray(item) ? item : {}
      const priceId = str(fields.price)
      const price = priceId ? prices.get(priceId) : undefined
      if (!priceId || !price)
        return priceId
          ? missing(send, res, 'price', priceId, `line_items[${i}][price]`)
          : invalid(send, res, `Missing required param: line_items[${i}][price].`, `line_items[${i}][price]`, 'parameter_missing')
      const quantity = Number(str(fields.quantity))
      if (!Number.isInteger(quantity) || quantity < 1)
        return invalid(send, res, `Quantity is required. Add \`quantity\` to \`line_items[${i}]\`.`, `line_items[${i}][quantity]`)
      lineItems.push({ price, quantity })
    }
    const subscriptionData = typeof params.subscription_data === 'object' && !Array.isArray(params.subscription_data) ? params.subscription_data : {}
    const session = {
      id: id('cs_test'),
      object: 'checkout.session',
      after_expiration: null,
      allow_promotion_codes: null,
      amount_subtotal: lineItems.reduce((sum, l) => sum + Number(l.price.unit_amount) * l.quantity, 0),
      amount_total: null,
      automatic_tax: { enabled: false, liability: null, status: null },
      billing_address_collection: null,
      cancel_url: str(params.cancel_url),
      client_reference_id: str(params.client_reference_id),
      client_secret: null,
      created: nowS(),
      currency: 'usd',
      customer,
      customer_creation: customer ? null : 'always',
      customer_details: null,
      customer_email: customerEmail,
      expires_at: nowS() + 86_400,
      invoice: null,
      livemode: false,
      locale: null,
      metadata: stringMap(params.metadata) ?? {},
      mode,
      payment_intent: null,
      payment_status: 'unpaid',
      status: 'open',
      subscription: null,
      success_url: successUrl,
      ui_mode: 'hosted',
      url: '',
      // Not part of Stripe's session object: what completing it needs (dropped from API answers below).
      _lineItems: lineItems,
      _subscriptionMetadata: stringMap(subscriptionData.metadata) ?? {},
    }
    session.amount_total = session.amount_subtotal as never
    session.url = `${baseUrl()}/checkout/${session.id}`
    sessions.set(session.id, session)
    send(res, 200, publicView(session))
  }

  /** The page's "Subscribe" button: what Stripe does when the customer pays. */
  async function complete(sessionId: string): Promise<Json | null> {
    const session = sessions.get(sessionId)
    if (session?.status !== 'open') return null
    const isNewCustomer = !session.customer
    const customer = isNewCustomer
      ? newCustomer({ email: (session.customer_email as string | null) ?? null })
      : (customers.get(session.customer as string) as Json)
    const start = nowS()
    const subscriptionId = id('sub')
    const lineItems = session._lineItems as { price: Json; quantity: number }[]
    const subscription = {
      id: subscriptionId,
      object: 'subscription',
      billing_cycle_anchor: start,
      cancel_at: null,
      cancel_at_period_end: false,
      canceled_at: null,
      collection_method: 'charge_automatically',
      created: start,
      currency: 'usd',
      customer: customer.id,
      default_payment_method: null,
      description: null,
      ended_at: null,
      latest_invoice: null,
      livemode: false,
      metadata: session._subscriptionMetadata,
      start_date: start,
      status: 'active',
      trial_end: null,
      trial_start: null,
      items: {
        object: 'list',
        has_more: false,
        url: `/v1/subscription_items?subscription=${subscriptionId}`,
        data: lineItems.map((l) => ({
          id: id('si'),
          object: 'subscription_item',
          created: start,
          current_period_start: start,
          current_period_end: start + SUBSCRIPTION_PERIOD_S,
          metadata: {},
          price: l.price,
          quantity: l.quantity,
          subscription: subscriptionId,
        })),
      },
    }
    subscriptions.set(subscriptionId, subscription)
    Object.assign(session, {
      status: 'complete',
      payment_status: 'paid',
      customer: customer.id,
      subscription: subscriptionId,
      customer_details: { email: customer.email, name: null, address: null, phone: null, tax_exempt: 'none', tax_ids: [] },
    })
    // Stripe's order for a new subscription through Checkout (one delivery each; Stripe does not promise order).
    if (isNewCustomer) await sendEvent('customer.created', customer)
    await sendEvent('customer.subscription.created', subscription)
    await sendEvent('checkout.session.completed', publicView(session))
    return session
  }

  async function cancel(subscriptionId: string): Promise<boolean> {
    const subscription = subscriptions.get(subscriptionId)
    if (!subscription || subscription.status === 'canceled') return false
    Object.assign(subscription, { status: 'canceled', canceled_at: nowS(), ended_at: nowS() })
    await sendEvent('customer.subscription.deleted', subscription)
    return true
  }

  function createPortal(params: FormObject, send: Send, res: ServerResponse): void {
    const customer = str(params.customer)
    if (!customer) return invalid(send, res, 'Missing required param: customer.', 'customer', 'parameter_missing')
    if (!customers.has(customer)) return missing(send, res, 'customer', customer, 'customer')
    const portal = {
      id: id('bps'),
      object: 'billing_portal.session',
      configuration: 'bpc_standin',
      created: nowS(),
      customer,
      flow: null,
      livemode: false,
      locale: null,
      on_behalf_of: null,
      return_url: str(params.return_url),
      url: '',
    }
    portal.url = `${baseUrl()}/portal/${portal.id}`
    portals.set(portal.id, portal)
    send(res, 200, portal)
  }

  const list = (data: Json[], url: string) => ({ object: 'list', data, has_more: false, url })

  /** Answers one request when it is this module's; false otherwise. */
  async function handle(req: IncomingMessage, url: URL, body: string, res: ServerResponse, sendJson: Send): Promise<boolean> {
    const method = req.method ?? 'GET'
    const path = url.pathname
    /** Every refusal Stripe would also give (bad key, bad or unknown parameter, unknown route) is a violation. */
    const send: Send = (r, status, value) => {
      const error = (value as { error?: { code?: string; message?: string } }).error
      if (error && error.code !== 'resource_missing') onViolation({ method, path, status, message: error.message ?? '' })
      sendJson(r, status, value)
    }
    const form = () => parseStripeForm(method === 'GET' ? url.search.slice(1) : body)
    const authorize = () => {
      const auth = req.headers.authorization ?? ''
      if (/^Bearer (sk|rk)_test_\w+$/.test(auth)) return true
      send(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided (the stand-in takes test-mode keys only).' } })
      return false
    }
    let m: RegExpExecArray | null
    if (path.startsWith('/v1/') && /^\/v1\/(customers|prices|checkout\/sessions|billing_portal\/sessions|subscriptions)(\/|$)/.test(path)) {
      if (!authorize()) return true
      const parsed = form()
      if (!parsed.ok) {
        invalid(send, res, `Invalid parameter: ${parsed.param}`, parsed.param)
        return true
      }
      const p = parsed.params
      if (method === 'POST' && path === '/v1/checkout/sessions') createSession(p, send, res)
      else if (method === 'GET' && (m = /^\/v1\/checkout\/sessions\/([\w-]+)$/.exec(path))) {
        const s = sessions.get(m[1] as string)
        s ? send(res, 200, publicView(s)) : missing(send, res, 'checkout.session', m[1] as string)
      } else if (method === 'POST' && path === '/v1/billing_portal/sessions') createPortal(p, send, res)
      else if (method === 'POST' && path === '/v1/customers')
        send(res, 200, newCustomer({ email: str(p.email), name: str(p.name), metadata: stringMap(p.metadata) ?? {} }))
      else if (method === 'GET' && (m = /^\/v1\/customers\/(\w+)$/.exec(path))) {
        const c = customers.get(m[1] as string)
        c ? send(res, 200, c) : missing(send, res, 'customer', m[1] as string)
      } else if (method === 'GET' && path === '/v1/prices') {
        const keys = Array.isArray(p.lookup_keys) ? p.lookup_keys.filter((k) => typeof k === 'string') : null
        const active = str(p.active)
        const data = [...prices.values()].filter((pr) => (!keys || keys.includes(pr.lookup_key as string)) && (active === null || String(pr.active) === active))
        send(res, 200, list(data, '/v1/prices'))
      } else if (method === 'GET' && (m = /^\/v1\/prices\/(\w+)$/.exec(path))) {
        const pr = prices.get(m[1] as string)
        pr ? send(res, 200, pr) : missing(send, res, 'price', m[1] as string)
      } else if (method === 'GET' && path === '/v1/subscriptions') {
        const customer = str(p.customer)
        send(
          res,
          200,
          list(
            [...subscriptions.values()].filter((s) => !customer || s.customer === customer),
            '/v1/subscriptions',
          ),
        )
      } else if (method === 'GET' && (m = /^\/v1\/subscriptions\/(\w+)$/.exec(path))) {
        const s = subscriptions.get(m[1] as string)
        s ? send(res, 200, s) : missing(send, res, 'subscription', m[1] as string)
      } else send(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path}).` } })
      return true
    }
    // The Stripe-hosted pages (HTML), and their form posts.
    if (method === 'GET' && (m = /^\/checkout\/([\w-]+)$/.exec(path))) {
      const s = sessions.get(m[1] as string)
      html(res, s ? 200 : 404, checkoutPage(s ? publicView(s) : null, s ? (s._lineItems as { price: Json; quantity: number }[]) : []))
      return true
    }
    if (method === 'POST' && (m = /^\/checkout\/([\w-]+)\/complete$/.exec(path))) {
      const s = await complete(m[1] as string)
      if (!s) html(res, 409, checkoutPage(null, []))
      else redirect(res, String(s.success_url).replaceAll('{CHECKOUT_SESSION_ID}', String(s.id)))
      return true
    }
    if (method === 'GET' && (m = /^\/portal\/(\w+)$/.exec(path))) {
      const portal = portals.get(m[1] as string)
      const subs = portal ? [...subscriptions.values()].filter((s) => s.customer === portal.customer) : []
      html(res, portal ? 200 : 404, portalPage(portal ?? null, portal ? (customers.get(portal.customer as string) ?? null) : null, subs))
      return true
    }
    if (method === 'POST' && (m = /^\/portal\/(\w+)\/cancel\/(\w+)$/.exec(path))) {
      const portal = portals.get(m[1] as string)
      const sub = subscriptions.get(m[2] as string)
      if (portal && sub && sub.customer === portal.customer) await cancel(sub.id as string)
      redirect(res, `/portal/${m[1]}`)
      return true
    }
    if (method === 'GET' && path === '/_standin/webhooks') {
      send(res, 200, { data: deliveries })
      return true
    }
    return false
  }

  return { handle, deliveries, customers, subscriptions, sessions }
}

/** A session as Stripe's API shows it (the stand-in's private fields left out). */
function publicView(session: Json): Json {
  return Object.fromEntries(Object.entries(session).filter(([key]) => !key.startsWith('_')))
}

function html(res: ServerResponse, status: number, page: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page), 'cache-control': 'no-store' })
  res.end(page)
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'content-length': 0 })
  res.end()
}
