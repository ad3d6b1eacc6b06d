// Console billing (tenant_admin, operator): a Stripe Checkout Session to subscribe or change plan (the price whose
// lookup key is `cic_<plan>`; the subscription's metadata carries cic_tenant_id and cic_plan, which the webhook
// uses to link the customer and set the plan) and a Billing Portal session for invoices and payment methods. Stripe
// is called with the project's one client (STRIPE_API_BASE: the stand-in locally); the plan itself changes only
// through the signed webhook.
import { type Context, Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import { ApiError } from '../../errors.ts'
import { log } from '../../log.ts'
import { checkoutSchema } from '../../schemas/console.ts'
import { auditStatement } from '../../services/audit/audit-entry.ts'
import { meterConfig, stripeClient } from '../../services/billing/billing-config.ts'
import { requireTenantRight } from '../../services/console/authz.ts'
import { userActor } from '../../services/console/users.ts'
import { readJsonBody } from '../read-body.ts'
import type { AppEnv } from '../../env.ts'
import { principalOf } from './console-auth.ts'

function stripeOf(env: Env) {
  const config = meterConfig(env)
  if (!config.ok) throw new ApiError('upstream_unavailable', 'Billing is not configured on this deployment.', { code: 'billing_not_configured' })
  return stripeClient(config.config)
}

/** A Stripe failure is a 502 for the browser; the details go to the log only. */
async function callStripe<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    log.error('console_stripe_failed', { what, error: String(err) })
    throw new ApiError('bad_gateway', 'Stripe could not be reached or refused the request; try again.', { code: 'billing_unavailable' })
  }
}

const billingAccess = (c: Context<AppEnv>) => requireTenantRight(createDb(c.env.DB), principalOf(c), c.req.param('tenantId') ?? '', 'manage_billing')

export const billingApi = new Hono<AppEnv>()
  .post('/tenants/:tenantId/billing/checkout', async (c) => {
    const { tenant } = await billingAccess(c)
    const { plan } = await readJsonBody(c, checkoutSchema)
    const user = principalOf(c).user
    const stripe = stripeOf(c.env)
    const prices = await callStripe('prices.list', () => stripe.prices.list({ lookup_keys: [`cic_${plan}`], active: true, limit: 1 }))
    const price = prices.data[0]
    if (!price) throw new ApiError('conflict', `No Stripe price has the lookup key 'cic_${plan}'.`, { code: 'no_price', param: 'plan' })
    const back = `${new URL(c.req.url).origin}/dashboard/tenants/${tenant.id}/billing`
    const session = await callStripe('checkout.sessions.create', () =>
      stripe.checkout.sessions.create({
        mode: 'subscription',
        line_items: [{ price: price.id, quantity: 1 }],
        ...(tenant.stripeCustomerId ? { customer: tenant.stripeCustomerId } : { customer_email: user.email }),
        client_reference_id: tenant.id,
        metadata: { cic_tenant_id: tenant.id, cic_plan: plan },
        subscription_data: { metadata: { cic_tenant_id: tenant.id, cic_plan: plan } },
        success_url: `${back}?checkout=success`,
        cancel_url: `${back}?checkout=cancelled`,
      }),
    )
    if (!session.url) throw new ApiError('bad_gateway', 'Stripe returned no Checkout URL.', { code: 'billing_unavailable' })
    const db = createDb(c.env.DB)
    await db.batch([
      auditStatement(db, {
        ...userActor(user, c.get('requestId')),
        action: 'console.billing.checkout',
        target: tenant.id,
        after: { plan, checkout_session: session.id, price: price.id },
      }),
    ])
    return c.json({ url: session.url })
  })
  .post('/tenants/:tenantId/billing/portal', async (c) => {
    const { tenant } = await billingAccess(c)
    const customer = tenant.stripeCustomerId
    if (!customer) throw new ApiError('conflict', 'This tenant has no Stripe customer yet: subscribe first.', { code: 'no_billing_account' })
    const stripe = stripeOf(c.env)
    const session = await callStripe('billingPortal.sessions.create', () =>
      stripe.billingPortal.sessions.create({ customer, return_url: `${new URL(c.req.url).origin}/dashboard/tenants/${tenant.id}/billing` }),
    )
    const db = createDb(c.env.DB)
    await db.batch([
      auditStatement(db, {
        ...userActor(principalOf(c).user, c.get('requestId')),
        action: 'console.billing.portal',
        target: tenant.id,
        after: { portal_session: session.id },
      }),
    ])
    return c.json({ url: session.url })
  })
