// POST /api/webhooks/stripe: Stripe's deliveries. No API key or admin token: the Stripe-Signature header over the
// raw body is the authentication. 400 (nothing read or written) for a bad signature; 200 once the event is stored,
// including a signed event whose object fails our schema (stored as `invalid`, logged at error level).
import { Hono } from 'hono'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { log } from '../../log.ts'
import { webhookConfig } from '../../services/billing/billing-config.ts'
import { readStripeEvent, signatureHeaderProblem } from '../../services/billing/read-stripe-event.ts'
import { applyStripeEvent, recordInvalidStripeEvent } from '../../services/billing/stripe-webhook.ts'
import { readBodyText } from '../read-body.ts'

/** Stripe events are a few KB; the cap keeps a stored payload far below D1's 2 MB row limit. */
const MAX_WEBHOOK_BYTES = 512 * 1024

export const stripeWebhooks = new Hono<AppEnv>().post('/stripe', async (c) => {
  const config = webhookConfig(c.env)
  if (!config.ok) {
    log.error('stripe_webhook_not_configured', { error: config.error })
    throw new ApiError('internal', 'Stripe webhooks are not configured.') // 500: Stripe keeps retrying until fixed
  }
  // Everything the header says is checked before the body is read: a forger without a fresh, well-formed
  // signature header gets its 400 without sending a byte of body, and anyone else is capped.
  const signature = c.req.header('stripe-signature')
  const problem = signatureHeaderProblem(signature, Math.floor(Date.now() / 1000))
  if (problem === 'missing' || !signature) throw new ApiError('invalid_request', 'Missing Stripe-Signature header.', { code: 'missing_signature' })
  if (problem) {
    log.warn('stripe_webhook_rejected', { reason: 'bad_signature', error: `Stripe-Signature header ${problem}` })
    throw new ApiError('invalid_request', 'Invalid Stripe signature.', { code: 'invalid_signature' })
  }
  const raw = await readBodyText(c, MAX_WEBHOOK_BYTES)

  const read = await readStripeEvent(raw, signature, config.config.webhookSecret)
  if (!read.ok && read.reason === 'bad_event' && read.envelope) {
    const { envelope } = read
    const result = await recordInvalidStripeEvent(c.env, envelope, raw)
    log.error('stripe_webhook_invalid_event', { eventId: envelope.id, type: envelope.type, error: read.message, duplicate: result.isDuplicate })
    return c.json({ received: true, id: envelope.id, outcome: result.outcome, duplicate: result.isDuplicate })
  }
  if (!read.ok) {
    log.warn('stripe_webhook_rejected', { reason: read.reason, error: read.message })
    if (read.reason === 'bad_signature') {
      throw new ApiError('invalid_request', 'Invalid Stripe signature.', { code: 'invalid_signature' })
    }
    // No usable id (the envelope itself is broken): nothing to store it under.
    throw new ApiError('invalid_request', `Unexpected Stripe event shape (${read.message}).`, { code: 'invalid_event' })
  }
  const result = await applyStripeEvent(c.env, read.event, raw, c.get('requestId'))
  log.info('stripe_webhook', { eventId: read.event.id, type: read.event.type, ...result })
  return c.json({ received: true, id: read.event.id, outcome: result.outcome, duplicate: result.isDuplicate })
})
