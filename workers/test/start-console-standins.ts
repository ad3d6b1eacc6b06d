// Vitest global setup (runs in Node) for the console tests (workers/test/console/): the OIDC stand-in
// (scripts/oidc-standin) and a recorder of the three Stripe calls the console makes (prices by lookup key,
// Checkout Sessions, Billing Portal sessions), answering in Stripe's wire format. The shared Stripe stand-in
// (scripts/stripe-standin) grows a full Checkout page for the browser tests; this one only records requests.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestProject } from 'vitest/node'
import { startOidcStandin } from '../../scripts/oidc-standin/server.ts'

declare module 'vitest' {
  interface ProvidedContext {
    oidcStandin: string
    consoleStripe: string
  }
}

/** Prices the recorder knows, by lookup key. */
const PRICES: Record<string, string> = { cic_pro: 'price_console_pro', cic_starter: 'price_console_starter' }

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

async function startStripeRecorder() {
  const requests: { method: string; path: string; query: string; form: string; authorization: string }[] = []
  let seq = 0
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://recorder')
      const form = await readBody(req)
      if (url.pathname === '/_recorder/requests') return send(res, 200, { data: requests })
      requests.push({ method: req.method ?? '', path: url.pathname, query: url.search, form, authorization: req.headers.authorization ?? '' })
      const origin = `http://${req.headers.host}`
      if (req.method === 'GET' && url.pathname === '/v1/prices') {
        const keys = url.searchParams.getAll('lookup_keys[]').concat(url.searchParams.getAll('lookup_keys[0]'))
        const data = keys.filter((k) => PRICES[k]).map((k) => ({ id: PRICES[k], object: 'price', lookup_key: k, active: true }))
        return send(res, 200, { object: 'list', data, has_more: false, url: '/v1/prices' })
      }
      if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
        const id = `cs_test_console_${++seq}`
        return send(res, 200, { id, object: 'checkout.session', url: `${origin}/checkout/${id}`, mode: 'subscription' })
      }
      if (req.method === 'POST' && url.pathname === '/v1/billing_portal/sessions') {
        const id = `bps_test_console_${++seq}`
        return send(res, 200, { id, object: 'billing_portal.session', url: `${origin}/portal/${id}` })
      }
      send(res, 404, { error: { type: 'invalid_request_error', message: `recorder: no route ${req.method} ${url.pathname}` } })
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

export default async function setup(project: TestProject) {
  const oidc = await startOidcStandin()
  const stripe = await startStripeRecorder()
  project.provide('oidcStandin', oidc.url)
  project.provide('consoleStripe', stripe.url)
  return async () => {
    await Promise.all([oidc.close(), stripe.close()])
  }
}
