// Console billing: Checkout Sessions (subscription, the plan's price by lookup key, cic_tenant_id in the
// subscription's metadata) and Billing Portal sessions, sent with the project's Stripe client to a recorder of
// Stripe's wire format; only tenant admins and operators may start them.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { type Browser, createTenant, member, operator, uniqueEmail } from './console-browser.ts'

type Recorded = { method: string; path: string; query: string; form: string; authorization: string }
const recorder = inject('consoleStripe')
const recorded = async (): Promise<Recorded[]> => ((await (await fetch(`${recorder}/_recorder/requests`)).json()) as { data: Recorded[] }).data

let op: Browser
let tenantId: string
let admin: Browser
let memberB: Browser

beforeAll(async () => {
  op = await operator()
  tenantId = await createTenant(op)
  admin = await member(op, tenantId, uniqueEmail('billing-admin'), 'tenant_admin')
  memberB = await member(admin, tenantId, uniqueEmail('billing-member'), 'tenant_member')
})

describe('billing from the console', () => {
  it('creates a subscription Checkout Session for the plan, carrying cic_tenant_id in the subscription metadata', async () => {
    const before = (await recorded()).length
    const res = await admin.fetch(`/dashboard/api/tenants/${tenantId}/billing/checkout`, { json: { plan: 'pro' } })
    expect(res.status).toBe(200)
    const { url } = (await res.json()) as { url: string }
    expect(url).toMatch(new RegExp(`^${recorder}/checkout/cs_test_console_\\d+$`))
    const calls = (await recorded()).slice(before)
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /v1/prices', 'POST /v1/checkout/sessions'])
    expect(decodeURIComponent(calls[0]?.query ?? '')).toContain('lookup_keys[0]=cic_pro')
    expect(calls[1]?.authorization).toBe(`Bearer ${env.STRIPE_SECRET_KEY}`)
    const form = new URLSearchParams(calls[1]?.form)
    expect(form.get('mode')).toBe('subscription')
    expect(form.get('line_items[0][price]')).toBe('price_console_pro')
    expect(form.get('line_items[0][quantity]')).toBe('1')
    expect(form.get('subscription_data[metadata][cic_tenant_id]')).toBe(tenantId)
    expect(form.get('subscription_data[metadata][cic_plan]')).toBe('pro')
    expect(form.get('client_reference_id')).toBe(tenantId)
    expect(form.get('customer_email')).toMatch(/^billing-admin-/) // no Stripe customer yet: Checkout makes one
    expect(form.get('success_url')).toBe(`http://console.test/dashboard/tenants/${tenantId}/billing?checkout=success`)
    const audit = await env.DB.prepare("SELECT actor, after FROM audit_log WHERE action = 'console.billing.checkout' AND target = ?")
      .bind(tenantId)
      .first<{ actor: string; after: string }>()
    expect(audit?.actor).toMatch(/^user:billing-admin-/)
    expect(JSON.parse(audit?.after ?? '{}')).toMatchObject({ plan: 'pro', price: 'price_console_pro' })
  })

  it('answers 409 no_price when Stripe has no price for the plan, and creates no session', async () => {
    const before = (await recorded()).length
    const res = await admin.fetch(`/dashboard/api/tenants/${tenantId}/billing/checkout`, { json: { plan: 'enterprise' } })
    expect(res.status).toBe(409)
    expect(await res.json()).toMatchObject({ error: { code: 'no_price', param: 'plan' } })
    expect((await recorded()).slice(before).map((c) => c.path)).toEqual(['/v1/prices'])
  })

  it('refuses the portal before the tenant has a Stripe customer; then opens one for that customer', async () => {
    const none = await admin.fetch(`/dashboard/api/tenants/${tenantId}/billing/portal`, { method: 'POST' })
    expect(none.status).toBe(409)
    expect(await none.json()).toMatchObject({ error: { code: 'no_billing_account' } })
    // A customer is linked (as the subscription webhook would; set in D1 directly here).
    const patch = await env.DB.prepare('UPDATE tenants SET stripe_customer_id = ? WHERE id = ?').bind('cus_console_test', tenantId).run()
    expect(patch.meta.changes).toBe(1)
    const before = (await recorded()).length
    const res = await admin.fetch(`/dashboard/api/tenants/${tenantId}/billing/portal`, { method: 'POST' })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { url: string }).url).toMatch(/\/portal\/bps_test_console_\d+$/)
    const [call] = (await recorded()).slice(before)
    expect(call?.path).toBe('/v1/billing_portal/sessions')
    const form = new URLSearchParams(call?.form)
    expect(form.get('customer')).toBe('cus_console_test')
    expect(form.get('return_url')).toBe(`http://console.test/dashboard/tenants/${tenantId}/billing`)
    // With a customer, Checkout uses it instead of an email.
    const checkoutBefore = (await recorded()).length
    expect((await admin.fetch(`/dashboard/api/tenants/${tenantId}/billing/checkout`, { json: { plan: 'starter' } })).status).toBe(200)
    const checkout = (await recorded()).slice(checkoutBefore).find((c) => c.path === '/v1/checkout/sessions')
    expect(new URLSearchParams(checkout?.form).get('customer')).toBe('cus_console_test')
    expect(new URLSearchParams(checkout?.form).get('customer_email')).toBeNull()
  })

  it('refuses members (403) and another tenant’s admin, without calling Stripe', async () => {
    const before = (await recorded()).length
    expect((await memberB.fetch(`/dashboard/api/tenants/${tenantId}/billing/checkout`, { json: { plan: 'pro' } })).status).toBe(403)
    expect((await memberB.fetch(`/dashboard/api/tenants/${tenantId}/billing/portal`, { method: 'POST' })).status).toBe(403)
    const otherTenant = await createTenant(op)
    const otherAdmin = await member(op, otherTenant, uniqueEmail('other-admin'), 'tenant_admin')
    expect((await otherAdmin.fetch(`/dashboard/api/tenants/${tenantId}/billing/checkout`, { json: { plan: 'pro' } })).status).toBe(403)
    expect((await recorded()).length).toBe(before)
  })
})
