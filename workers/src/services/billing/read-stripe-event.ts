// Verifies a Stripe webhook delivery (HMAC over the raw body, 300 s timestamp tolerance, Web Crypto) and parses
// the event into what billing acts on. Called by the webhook route before anything is read or written.
import Stripe from 'stripe'
import { parseBillingEvent, type BillingEvent, type EventEnvelope } from '../../schemas/stripe.ts'

export type ReadResult =
  | { ok: true; event: BillingEvent }
  | { ok: false; reason: 'bad_signature'; message: string }
  /** Signed by Stripe, but not the shape we expect; `envelope` is set when only its object failed the schema. */
  | { ok: false; reason: 'bad_event'; message: string; envelope: EventEnvelope | null }

const cryptoProvider = Stripe.createSubtleCryptoProvider()

/** Stripe's DEFAULT_TOLERANCE (stripe-node Webhooks.ts): a signature older than this is refused. */
export const SIGNATURE_TOLERANCE_SECONDS = 300

/**
 * What can be checked of a Stripe-Signature header before the body is read: `t=<unix seconds>` once and at least
 * one `v1=<hex>` (other schemes such as v0 may follow), with t within the tolerance of now, in the past or the
 * future (Stripe's own check refuses only old ones). Returns why it is refused, or null.
 */
export function signatureHeaderProblem(header: string | undefined, nowSeconds: number): string | null {
  if (!header) return 'missing'
  let timestamp: number | null = null
  let hasV1 = false
  for (const item of header.split(',')) {
    const eq = item.indexOf('=')
    const key = item.slice(0, eq).trim()
    const value = item.slice(eq + 1).trim()
    if (eq <= 0) return 'malformed'
    if (key === 't') {
      if (timestamp !== null || !/^\d{1,12}$/.test(value)) return 'malformed'
      timestamp = Number(value)
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return 'malformed'
      hasV1 = true
    }
  }
  if (timestamp === null || !hasV1) return 'malformed'
  if (Math.abs(nowSeconds - timestamp) > SIGNATURE_TOLERANCE_SECONDS) return 'outside_tolerance'
  return null
}

export async function readStripeEvent(rawBody: string, signature: string, webhookSecret: string): Promise<ReadResult> {
  let verified: unknown
  try {
    // 0 would disable the timestamp check (v23); signatureHeaderProblem also refuses timestamps in the future.
    verified = await Stripe.webhooks.constructEventAsync(rawBody, signature, webhookSecret, SIGNATURE_TOLERANCE_SECONDS, cryptoProvider)
  } catch (err) {
    return { ok: false, reason: 'bad_signature', message: err instanceof Error ? err.message : String(err) }
  }
  const parsed = parseBillingEvent(verified)
  if (!parsed.ok) return { ok: false, reason: 'bad_event', message: parsed.error, envelope: parsed.envelope }
  return { ok: true, event: parsed.event }
}
