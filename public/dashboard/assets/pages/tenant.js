// A tenant's pages (/dashboard/tenants/:tenantId[/usage|/keys|/members|/billing]) and the list of the viewer's
// tenants. What a role sees follows the server's rules; the server checks every call again (403 otherwise).
import { api, enc, list } from '../api.js'
import { h, number, status, table } from '../dom.js'
import { billingPage } from './billing.js'
import { keysPage } from './keys.js'
import { membersPage } from './members.js'
import { canAdminister } from './roles.js'
import { usagePage } from './usage.js'

/** The page frame: the tenant's name, its tabs, then the page's own content. */
export async function tenantFrame(ctx, active, content) {
  const id = ctx.params.tenantId
  const tenant = await api('GET', `/tenants/${enc(id)}`)
  const base = `/dashboard/tenants/${enc(id)}`
  const tabs = [
    ['Overview', base],
    ['Usage', `${base}/usage`],
    ['Keys', `${base}/keys`],
    ['Members', `${base}/members`],
    ...(canAdminister(ctx.me, id) ? [['Billing', `${base}/billing`]] : []),
  ]
  return h(
    'div',
    {},
    h('p', { class: 'crumb' }, `Tenant ${tenant.name} · plan ${tenant.plan} · `, status(tenant.status)),
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Tenant' },
      tabs.map(([label, href]) => h('a', { href, class: 'tab', 'aria-current': label === active ? 'page' : null }, label)),
    ),
    await content(tenant),
  )
}

const LIMITS = [
  ['Requests per minute', 'rpm', 'requests_last_minute'],
  ['Tokens per minute', 'tpm', 'tokens_last_minute'],
  ['Concurrent requests', 'concurrency', 'in_flight'],
  ['Monthly token budget', 'budget_tokens', 'budget_used'],
]

async function overviewPage(ctx) {
  return tenantFrame(ctx, 'Overview', async (tenant) => {
    const limits = tenant.limits ?? {}
    const current = tenant.current ?? {}
    const rows = LIMITS.map(([label, limitKey, useKey]) => {
      const limit = limits[limitKey] ?? (limitKey === 'budget_tokens' ? limits.budget : undefined)
      return [label, limit === 0 ? 'unlimited' : number(limit), number(current[useKey])]
    })
    const extra = Object.entries(limits).filter(([key]) => !LIMITS.some(([, k]) => k === key) && key !== 'budget')
    return h(
      'section',
      {},
      h('h1', {}, tenant.name),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Plan'),
        h('dd', {}, tenant.plan),
        h('dt', {}, 'Status'),
        h('dd', {}, status(tenant.status)),
        h('dt', {}, 'Tenant id'),
        h('dd', {}, h('code', {}, tenant.id)),
      ),
      h('h2', {}, 'Limits and current use'),
      table(['Limit', 'Allowed', 'Used now'], [...rows, ...extra.map(([key, value]) => [key, number(value), '–'])], (row) => row, { 'data-testid': 'limits' }),
    )
  })
}

export async function tenantsPage() {
  const tenants = list(await api('GET', '/tenants'), 'tenants')
  return h(
    'section',
    {},
    h('h1', {}, 'Tenants'),
    table(['Name', 'Plan', 'Status'], tenants, (t) => [h('a', { href: `/dashboard/tenants/${enc(t.id)}` }, t.name), t.plan, status(t.status)]),
  )
}

const TENANT = '^/dashboard/tenants/(?<tenantId>[^/]+)'
export const tenantRoutes = [
  { pattern: new RegExp(`${TENANT}$`), page: overviewPage },
  { pattern: new RegExp(`${TENANT}/usage$`), page: (ctx) => tenantFrame(ctx, 'Usage', (tenant) => usagePage(ctx, tenant)) },
  { pattern: new RegExp(`${TENANT}/keys$`), page: (ctx) => tenantFrame(ctx, 'Keys', (tenant) => keysPage(ctx, tenant)) },
  { pattern: new RegExp(`${TENANT}/members$`), page: (ctx) => tenantFrame(ctx, 'Members', (tenant) => membersPage(ctx, tenant)) },
  { pattern: new RegExp(`${TENANT}/billing$`), page: (ctx) => tenantFrame(ctx, 'Billing', (tenant) => billingPage(ctx, tenant)) },
]
