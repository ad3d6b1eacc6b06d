// Checks a POST /v1/billing/meter_events request the way Stripe documents it (form-encoded params, string
// payload values, whole-number value, timestamp within the past 35 days and at most 5 min ahead), plus what CIC
// promises on top: an identifier on every event. Pure; the server records what it returns.

export type MeterEventParams = { eventName: string; customer: string; value: string; identifier: string; timestamp: number }
export type Check = { ok: true; params: MeterEventParams } | { ok: false; status: number; param: string | null; message: string }

const DAY_S = 86_400
const ALLOWED = /^(event_name|identifier|timestamp|payload\[[A-Za-z0-9_]+\]|expand\[\d*\])$/

type Headers = Record<string, string | string[] | undefined>
const header = (h: Headers, name: string) => {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

export function checkMeterEventRequest(headers: Headers, body: string, nowS: number, expectedKey: string | null): Check {
  const auth = header(headers, 'authorization') ?? ''
  const key = auth.startsWith('Bearer ') ? auth.slice(7) : ''
  const isKeyOk = expectedKey ? key === expectedKey : /^(sk|rk)_test_\w+$/.test(key)
  if (!isKeyOk) return { ok: false, status: 401, param: null, message: 'Invalid API Key provided (the stand-in takes test-mode keys only).' }
  if (!(header(headers, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
    return { ok: false, status: 400, param: null, message: 'Body must be application/x-www-form-urlencoded.' }
  }
  if (!header(headers, 'stripe-version')) return { ok: false, status: 400, param: null, message: 'Missing Stripe-Version header.' }

  const form = new URLSearchParams(body)
  for (const name of form.keys()) {
    if (!ALLOWED.test(name)) return { ok: false, status: 400, param: name, message: `Received unknown parameter: ${name}` }
  }
  const get = (name: string) => form.get(name) ?? ''
  const eventName = get('event_name')
  if (eventName.length < 1 || eventName.length > 100) return bad('event_name', 'event_name is required (at most 100 characters).')
  const customer = get('payload[stripe_customer_id]')
  if (!/^cus_\w+$/.test(customer)) return bad('payload[stripe_customer_id]', 'payload[stripe_customer_id] must be a customer id (cus_...).')
  const value = get('payload[value]')
  if (!/^\d+$/.test(value)) return bad('payload[value]', 'payload[value] must be a whole number, as a string.')
  const identifier = get('identifier')
  if (identifier.length < 1 || identifier.length > 100) return bad('identifier', 'identifier is required here (at most 100 characters).')
  const raw = get('timestamp')
  const timestamp = Number(raw)
  if (!/^\d+$/.test(raw) || timestamp < nowS - 35 * DAY_S || timestamp > nowS + 300) {
    return bad('timestamp', 'timestamp must be seconds since epoch, within the past 35 days and at most 5 minutes ahead.')
  }
  return { ok: true, params: { eventName, customer, value, identifier, timestamp } }
}

const bad = (param: string, message: string): Check => ({ ok: false, status: 400, param, message })
