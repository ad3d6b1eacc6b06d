// A local stand-in for the part of Stripe's API that CIC calls (POST /v1/billing/meter_events). It checks every
// request strictly (meter-event-request.ts), records what it accepted, and can fail on demand. The Worker's real
// `stripe` client is pointed at it through STRIPE_API_BASE, in tests (global setup) and by hand (main.ts).
//
// Control API for tests (plain JSON, no auth; the stand-in only listens on loopback by default):
//   GET  /_standin/meter-events?customer=cus_x  every meter event request received for that customer, in order
//   GET  /_standin/violations                   requests that broke the contract (unknown route, bad params)
//   POST /_standin/fail {customer, status, times, mode}  the customer's next `times` events fail with `status`;
//        mode "reject": not recorded as accepted; "accept_then_fail": accepted, but the answer is an error (a lost response)
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { z } from 'zod'
import { type CheckoutOptions, createCheckout, type WebhookDelivery } from './checkout.ts'
import { checkMeterEventRequest } from './meter-event-request.ts'

export type Receipt = {
  identifier: string
  eventName: string
  customer: string
  value: string
  timestamp: number
  /** Stripe counted it (the stand-in answered 200, or accepted before an injected error). */
  isAccepted: boolean
  /** The identifier had already been accepted: Stripe deduplicates these, so it did not count twice. */
  isRepeat: boolean
  status: number
}
export type Violation = { method: string; path: string; status: number; message: string }
export type FailRule = { customer: string; status: number; times: number; mode: 'reject' | 'accept_then_fail' }

export type StripeStandin = {
  url: string
  port: number
  receipts: Receipt[]
  violations: Violation[]
  fail(rule: FailRule): void
  /** Webhooks sent by completed Checkouts and portal cancellations (checkout.ts), in order. */
  webhooks: WebhookDelivery[]
  close(): Promise<void>
}

export type StripeStandinOptions = {
  port?: number
  host?: string
  /** Exact key to require; default any sk_test_ key. */
  secretKey?: string
  /** Checkout, portal, customers and prices (checkout.ts): where its webhooks go. */
  checkout?: CheckoutOptions
}

export async function startStripeStandin(options: StripeStandinOptions = {}): Promise<StripeStandin> {
  const receipts: Receipt[] = []
  const violations: Violation[] = []
  const rules: FailRule[] = []
  const accepted = new Set<string>()
  let baseUrl = ''
  const checkout = createCheckout(
    options.checkout ?? {},
    () => baseUrl,
    (v) => violations.push(v),
  )

  const meterEvent = (req: IncomingMessage, body: string, res: ServerResponse) => {
    const check = checkMeterEventRequest(req.headers, body, Math.floor(Date.now() / 1000), options.secretKey ?? null)
    if (!check.ok) {
      violations.push({ method: 'POST', path: '/v1/billing/meter_events', status: check.status, message: check.message })
      const type = check.status === 401 ? 'authentication_error' : 'invalid_request_error'
      return sendJson(res, check.status, { error: { type, code: 'parameter_invalid', param: check.param, message: check.message } })
    }
    const p = check.params
    const isRepeat = accepted.has(p.identifier)
    if (isRepeat) {
      // Stripe refuses an identifier it already holds (uniqueness over at least 24 h) with this 400 and
      // stripe-should-retry: false, as observed in langfuse/langfuse PR #16292 ("fix(worker): treat a duplicate
      // Stripe meter event as delivered"): the event is counted once, from its first acceptance.
      receipts.push({ ...p, isAccepted: false, isRepeat, status: 400 })
      return sendJson(
        res,
        400,
        { error: { type: 'invalid_request_error', message: `An event already exists with identifier ${p.identifier}.` } },
        { 'stripe-should-retry': 'false' },
      )
    }
    const rule = rules.find((r) => r.customer === p.customer && r.times > 0)
    if (rule) rule.times--
    const isAccepted = !rule || rule.mode === 'accept_then_fail'
    if (isAccepted) accepted.add(p.identifier)
    const status = rule ? rule.status : 200
    receipts.push({ ...p, isAccepted, isRepeat, status })
    if (rule) return sendJson(res, status, { error: { type: 'api_error', message: `stand-in: injected ${status} (${rule.mode})` } })
    sendJson(res, 200, {
      object: 'billing.meter_event',
      created: Math.floor(Date.now() / 1000),
      event_name: p.eventName,
      identifier: p.identifier,
      livemode: false,
      payload: { stripe_customer_id: p.customer, value: p.value },
      timestamp: p.timestamp,
    })
  }

  /** Answers a control request; false when it is not one. */
  const control = (req: IncomingMessage, url: URL, body: string, res: ServerResponse): boolean => {
    const route = `${req.method} ${url.pathname}`
    if (route === 'GET /_standin/meter-events') {
      const customer = url.searchParams.get('customer')
      sendJson(res, 200, { data: receipts.filter((r) => !customer || r.customer === customer) })
    } else if (route === 'GET /_standin/violations') {
      sendJson(res, 200, { data: violations })
    } else if (route === 'POST /_standin/fail') {
      const rule = parseRule(body)
      if (rule) rules.push(rule)
      sendJson(res, rule ? 200 : 400, rule ? { ok: true } : { error: 'expected {customer, status (4xx/5xx), times, mode: "reject" | "accept_then_fail"}' })
    } else {
      return false
    }
    return true
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://standin')
    const body = await readBody(req)
    if (req.method === 'POST' && url.pathname === '/v1/billing/meter_events') return meterEvent(req, body, res)
    if (control(req, url, body, res)) return
    if (await checkout.handle(req, url, body, res, sendJson)) return
    violations.push({ method: req.method ?? '?', path: url.pathname, status: 404, message: 'unexpected request' })
    sendJson(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname}).` } })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve())
  })
  const { port, address } = server.address() as AddressInfo
  baseUrl = `http://${address}:${port}`
  return {
    url: `http://${address}:${port}`,
    port,
    receipts,
    violations,
    webhooks: checkout.deliveries,
    fail: (rule) => {
      rules.push({ ...rule })
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

const failRuleSchema = z.strictObject({
  customer: z.string().min(1),
  status: z.number().int().min(400).max(599),
  times: z.number().int().positive(),
  mode: z.enum(['reject', 'accept_then_fail']),
})

function parseRule(body: string): FailRule | null {
  try {
    const parsed = failRuleSchema.safeParse(JSON.parse(body))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(value)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    'request-id': `req_standin_${Date.now()}`,
    ...headers,
  })
  res.end(json)
}
