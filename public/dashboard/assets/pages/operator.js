// Operator pages (/dashboard/ops/*): overview (what the token page showed: tenants, nodes by status, the last 24 h
// per hour), every tenant (create), nodes (nodes.js), dead letters with replay, meter pushes, the audit log with
// filters. Fleets and prices: fleet-prices.js.
import { api, enc, list, query } from '../api.js'
import { barChart } from '../bar-chart.js'
import { field, h, notice, number, status, table, when } from '../dom.js'
import { fleetPage, pricesPage } from './fleet-prices.js'
import { nodesPage } from './nodes.js'

const compact = (value) => (value === null || value === undefined ? '–' : typeof value === 'object' ? JSON.stringify(value) : String(value))
const hourLabel = (ms) => new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })

async function overviewPage(ctx) {
  const o = await api('GET', '/overview')
  const byHour = o.usage_by_hour ?? []
  const chart = barChart({
    testId: 'overview-chart',
    ariaLabel: 'Tokens per hour, all tenants, last 24 hours',
    labels: byHour.map((r) => hourLabel(r.start)),
    datasets: [
      { label: 'prompt tokens', data: byHour.map((r) => r.prompt_tokens) },
      { label: 'completion tokens', data: byHour.map((r) => r.completion_tokens) },
    ],
  })
  ctx.onLeave(chart.destroy)
  const u = o.usage_last_24h ?? {}
  return h(
    'section',
    {},
    h('h1', {}, 'Operator overview'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Tenants'),
      h('dd', {}, h('a', { href: '/dashboard/ops/tenants' }, number(o.tenants))),
      h('dt', {}, 'Nodes'),
      h(
        'dd',
        {},
        h(
          'a',
          { href: '/dashboard/ops/nodes' },
          Object.entries(o.nodes_by_status ?? {})
            .map(([s, n]) => `${n} ${s}`)
            .join(', ') || 'none',
        ),
      ),
      h('dt', {}, 'Last 24 h'),
      h('dd', {}, `${number(u.requests)} requests, ${number(u.total_tokens)} tokens`),
      h('dt', {}, 'Dead letters pending'),
      h(
        'dd',
        {},
        h(
          'a',
          { href: '/dashboard/ops/dead-letters' },
          `${number(o.dead_letters_pending?.usage)} usage, ${number(o.dead_letters_pending?.node_ops)} node operations`,
        ),
      ),
    ),
    h('h2', {}, 'Tokens per hour, all tenants (last 24 h)'),
    chart.node,
    table(['Hour', 'Requests', 'Prompt tokens', 'Completion tokens'], byHour, (r) => [
      when(r.start),
      number(r.requests),
      number(r.prompt_tokens),
      number(r.completion_tokens),
    ]),
  )
}

async function tenantsPage() {
  const message = h('div', { 'aria-live': 'polite' })
  const holder = h('div')
  const refresh = async () => {
    const tenants = list(await api('GET', '/tenants'), 'tenants')
    holder.replaceChildren(
      table(
        ['Name', 'Plan', 'Status', 'Id'],
        tenants,
        (t) => [h('a', { href: `/dashboard/tenants/${enc(t.id)}` }, t.name), t.plan, status(t.status), h('code', {}, t.id)],
        {
          'data-testid': 'tenants-table',
        },
      ),
    )
  }
  const name = h('input', { name: 'name', required: true, maxlength: 200 })
  const plan = h(
    'select',
    { name: 'plan' },
    ['default', 'free', 'starter', 'pro', 'enterprise'].map((p) => h('option', { value: p }, p)),
  )
  const form = h(
    'form',
    {
      'aria-label': 'Create tenant',
      class: 'inline',
      onsubmit: async (event) => {
        event.preventDefault()
        try {
          const created = await api('POST', '/tenants', { name: name.value.trim(), plan: plan.value })
          name.value = ''
          message.replaceChildren(notice('ok', `Tenant ${created.name} created.`))
        } catch (err) {
          message.replaceChildren(notice('error', err.message))
        }
        await refresh()
      },
    },
    field('Tenant name', name),
    field('Plan', plan),
    h('button', { type: 'submit', class: 'primary' }, 'Create tenant'),
  )
  await refresh()
  return h('section', {}, h('h1', {}, 'Tenants'), form, message, holder)
}

const DEAD_LETTER_KINDS = [
  ['usage', 'Usage events', (d) => [d.tenant_id, d.request_id]],
  ['node_ops', 'Node operations', (d) => [d.op, d.cluster_name]],
]

async function deadLettersPage() {
  const message = h('div', { 'aria-live': 'polite' })
  const holder = h('div')
  const replay = async (kind, ids) => {
    try {
      const result = await api('POST', '/dead-letters/replay', ids ? { kind, ids } : { kind })
      message.replaceChildren(notice('ok', `Replay (${kind}): ${compact(result)}`))
    } catch (err) {
      message.replaceChildren(notice('error', err.message))
    }
    await refresh()
  }
  async function refresh() {
    const lists = await Promise.all(DEAD_LETTER_KINDS.map(([kind]) => api('GET', `/dead-letters${query({ kind, limit: 100 })}`)))
    holder.replaceChildren(
      // through h(): it drops the null of a kind with nothing pending (replaceChildren would print "null")
      h(
        'div',
        {},
        DEAD_LETTER_KINDS.map(([kind, title, what], i) => {
          const rows = list(lists[i])
          const pending = rows.filter((d) => d.status === 'pending')
          return [
            h('h2', {}, title),
            pending.length ? h('p', {}, h('button', { type: 'button', onclick: () => replay(kind, null) }, `Replay all pending ${title.toLowerCase()}`)) : null,
            table(['Id', 'What', 'Reason', 'Error', 'Attempts', 'Last seen', 'Status', ''], rows, (d) => [
              h('code', {}, d.id),
              what(d).filter(Boolean).join(' · '),
              d.reason,
              d.error,
              number(d.attempts),
              when(d.last_seen_at),
              status(d.status),
              d.status === 'pending' ? h('button', { type: 'button', 'aria-label': `Replay ${d.id}`, onclick: () => replay(kind, [d.id]) }, 'Replay') : null,
            ]),
          ]
        }),
      ),
    )
  }
  await refresh()
  return h('section', {}, h('h1', {}, 'Dead letters'), message, holder)
}

async function meterPushesPage(ctx) {
  const tenant = h('input', { name: 'tenant_id', value: ctx.search.get('tenant_id') ?? '' })
  const state = h('input', { name: 'status', value: ctx.search.get('status') ?? '' })
  const holder = h('div')
  const load = async () => {
    try {
      const rows = list(await api('GET', `/meter-pushes${query({ tenant_id: tenant.value.trim(), status: state.value.trim(), limit: 100 })}`))
      holder.replaceChildren(
        table(['Hour', 'Tenant', 'Customer', 'Value', 'Status', 'Attempts', 'Last error', 'Sent'], rows, (p) => [
          when(p.hour_start),
          h('code', {}, p.tenant_id),
          p.stripe_customer_id,
          number(p.value),
          status(p.status),
          number(p.attempts),
          p.last_error,
          when(p.sent_at),
        ]),
      )
    } catch (err) {
      holder.replaceChildren(notice('error', err.message))
    }
  }
  const form = h(
    'form',
    {
      'aria-label': 'Meter push filters',
      class: 'inline',
      onsubmit: (event) => {
        event.preventDefault()
        void load()
      },
    },
    field('Tenant id', tenant),
    field('Status', state),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  )
  await load()
  return h('section', {}, h('h1', {}, 'Meter pushes'), form, holder)
}

async function auditPage(ctx) {
  const inputs = {
    actor: h('input', { name: 'actor', value: ctx.search.get('actor') ?? '', placeholder: 'user:ops@example.com' }),
    target: h('input', { name: 'target', value: ctx.search.get('target') ?? '' }),
    from: h('input', { name: 'from', type: 'datetime-local' }),
    to: h('input', { name: 'to', type: 'datetime-local' }),
  }
  const holder = h('div')
  const more = h('p')
  const load = async (cursor) => {
    const params = { limit: 100, cursor, actor: inputs.actor.value.trim(), target: inputs.target.value.trim() }
    for (const k of ['from', 'to']) if (inputs[k].value) params[k] = new Date(inputs[k].value).toISOString()
    try {
      const page = await api('GET', `/audit${query(params)}`)
      const rows = list(page)
      const t = table(['When', 'Actor', 'Action', 'Target', 'Change', 'Request'], rows, (e) => [
        when(e.at),
        e.actor,
        e.action,
        e.target,
        e.after === null || e.after === undefined ? compact(e.before) : compact(e.after),
        e.request_id,
      ])
      if (cursor) holder.append(t)
      else holder.replaceChildren(t)
      const last = rows.at(-1)
      more.replaceChildren(page.has_more && last ? h('button', { type: 'button', onclick: () => load(last.id) }, 'Older entries') : '')
    } catch (err) {
      holder.replaceChildren(notice('error', err.message))
    }
  }
  const form = h(
    'form',
    {
      'aria-label': 'Audit filters',
      class: 'inline',
      onsubmit: (event) => {
        event.preventDefault()
        void load()
      },
    },
    field('Actor', inputs.actor),
    field('Target', inputs.target),
    field('From', inputs.from),
    field('To', inputs.to),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  )
  await load()
  return h('section', {}, h('h1', {}, 'Audit log'), form, h('div', { 'data-testid': 'audit-log' }, holder), more)
}

export const operatorRoutes = [
  { pattern: /^\/dashboard\/ops$/, page: overviewPage },
  { pattern: /^\/dashboard\/ops\/tenants$/, page: tenantsPage },
  { pattern: /^\/dashboard\/ops\/nodes$/, page: nodesPage },
  { pattern: /^\/dashboard\/ops\/dead-letters$/, page: deadLettersPage },
  { pattern: /^\/dashboard\/ops\/meter-pushes$/, page: meterPushesPage },
  { pattern: /^\/dashboard\/ops\/audit$/, page: auditPage },
  { pattern: /^\/dashboard\/ops\/fleet$/, page: fleetPage },
  { pattern: /^\/dashboard\/ops\/prices$/, page: pricesPage },
]
