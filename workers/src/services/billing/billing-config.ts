// Stripe settings, parsed from the Worker env when billing code needs them (webhook route, meter cron), not on
// every request: a deployment without Stripe keeps serving inference. Also builds the one Stripe client.
import Stripe from 'stripe'
import { z } from 'zod'

const webhookSchema = z.object({
  STRIPE_WEBHOOK_SECRET: z.string().trim().min(16, 'STRIPE_WEBHOOK_SECRET must be set (whsec_...)'),
})

const meterSchema = z.object({
  STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_\w+$/, 'STRIPE_SECRET_KEY must be a Stripe secret key (sk_...)'),
  /** The identifier `${tenantId}:${eventName}:${hourStart}[:seq]` must fit Stripe's 100 characters. */
  STRIPE_METER_EVENT_NAME: z.string().regex(/^[A-Za-z0-9_.-]{1,50}$/, 'STRIPE_METER_EVENT_NAME: 1-50 of [A-Za-z0-9_.-]'),
  STRIPE_API_BASE: z.url({ protocol: /^https?$/ }).default('https://api.stripe.com'),
})

export type WebhookConfig = { webhookSecret: string }
export type MeterConfig = { secretKey: string; eventName: string; apiBase: URL }

type Parsed<T> = { ok: true; config: T } | { ok: false; error: string }

export function webhookConfig(env: Env): Parsed<WebhookConfig> {
  const parsed = webhookSchema.safeParse(env)
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error) }
  return { ok: true, config: { webhookSecret: parsed.data.STRIPE_WEBHOOK_SECRET } }
}

export function meterConfig(env: Env): Parsed<MeterConfig> {
  const parsed = meterSchema.safeParse(env)
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error) }
  const d = parsed.data
  return { ok: true, config: { secretKey: d.STRIPE_SECRET_KEY, eventName: d.STRIPE_METER_EVENT_NAME, apiBase: new URL(d.STRIPE_API_BASE) } }
}

/**
 * A Stripe client on fetch, aimed at `apiBase` (host, port, protocol; v22+ only allows this per client).
 * No client-side retries: a meter push that fails stays in D1 and is re-sent, verbatim, by the next cron run.
 */
export function stripeClient(config: MeterConfig): Stripe {
  const { apiBase } = config
  const protocol = apiBase.protocol === 'http:' ? 'http' : 'https'
  return new Stripe(config.secretKey, {
    httpClient: Stripe.createFetchHttpClient(),
    host: apiBase.hostname,
    port: apiBase.port || (protocol === 'http' ? 80 : 443),
    protocol,
    maxNetworkRetries: 0,
    timeout: 20_000,
  })
}
