// A tenant's plan and billing (tenant admins and operators): Stripe Checkout to subscribe or change plan, and the
// Stripe Customer Portal for invoices and payment methods. Both are Stripe-hosted pages: the server creates the
// session and the browser goes to its url; the plan changes when Stripe's signed webhook arrives.
import { api, enc } from '../api.js'
import { field, h, notice } from '../dom.js'

/** Self-serve plans (free/default/enterprise are set by operators). */
const PLANS = ['starter', 'pro']

export async function billingPage(ctx, tenant) {
  const base = `/tenants/${enc(tenant.id)}/billing`
  const billing = tenant.billing ?? {}
  const message = h('div', { 'aria-live': 'polite' })
  const go = async (button, path, body) => {
    button.disabled = true
    try {
      const { url } = await api('POST', path, body)
      location.assign(url)
    } catch (err) {
      message.replaceChildren(notice('error', err.message))
      button.disabled = false
    }
  }
  const plan = h(
    'select',
    { name: 'plan' },
    PLANS.map((p) => h('option', { value: p, selected: p !== tenant.plan && p === 'pro' }, p)),
  )
  /** A tenant already on a paid plan with a Stripe customer changes plan; anyone else subscribes. */
  const hasSubscription = billing.has_billing_account === true && PLANS.includes(tenant.plan)
  const checkout = h(
    'form',
    {
      'aria-label': 'Choose a plan',
      onsubmit: (event) => {
        event.preventDefault()
        void go(event.submitter ?? checkout.querySelector('button'), `${base}/checkout`, { plan: plan.value })
      },
    },
    field('Plan', plan),
    h('button', { type: 'submit', class: 'primary' }, hasSubscription ? 'Change plan' : 'Subscribe'),
  )
  const portal = h(
    'button',
    { type: 'button', disabled: !billing.has_billing_account, onclick: (event) => go(event.currentTarget, `${base}/portal`) },
    'Manage billing',
  )
  const returned = ctx.search.get('checkout')
  return h(
    'section',
    {},
    h('h1', {}, 'Billing'),
    returned === 'success' ? notice('ok', 'Checkout complete. The plan changes as soon as Stripe confirms the subscription.') : null,
    returned === 'cancelled' || returned === 'cancel' ? notice('info', 'Checkout cancelled: nothing changed.') : null,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Plan'),
      h('dd', { 'data-testid': 'plan' }, tenant.plan),
      h('dt', {}, 'Stripe customer'),
      h('dd', {}, billing.stripe_customer_id ? h('code', {}, billing.stripe_customer_id) : 'none yet (created at the first Checkout)'),
    ),
    h('h2', {}, hasSubscription ? 'Change plan' : 'Subscribe'),
    checkout,
    h('h2', {}, 'Invoices and payment methods'),
    h('p', {}, portal),
    message,
  )
}
