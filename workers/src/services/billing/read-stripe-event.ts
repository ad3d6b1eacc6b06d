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

export async function readStripeEvent(rawBody: string, signature: string, webhookSecret: string): Promise<ReadResult> {
  let verified: unknown
  try {
    // tolerance undefined = Stripe's DEFAULT_TOLERANCE (300 s); 0 would disable the timestamp check (v23).
    verified = await Stripe.webhooks.constructEventAsync(rawBody, signature, webhookSecret, undefined, cryptoProvider)
  } catch (err) {
    return { ok: false, reason: 'bad_signature', message: err instanceof Error ? err.message : String(err) }
  }
  const parsed = parseBillingEvent(verified)
  if (!parsed.ok) return { ok: false, reason: 'bad_event', message: parsed.error, envelope: parsed.envelope }
  return { ok: true, event: parsed.event }
}
