// Operator pages (/dashboard/ops/*): overview, every tenant (create), nodes (nodes.js), dead letters with replay,
// meter pushes, the audit log with filters, and the fleet's desired state and prices when the server has them.
import { api, ApiError, enc, list, query } from '../api.js'
import { field, h, notice, number, status, table, when } from '../dom.js'
import { nodesPage } from './nodes.js'

/** A value for a table cell whatever its type (objects as compact JSON). */
const cell = (value) =>
  value === null || value === undefined ? '–' : typeof value === 'object' ? JSON.stringify(value) : typeof value === 'number' ? number(value) : String(value)

/** Columns of a list whose shape the server owns: `columns` first, then any other scalar fields of the first row. */
function autoTable(items, columns, extra = () => [], props = {}) {
  const keys = [...columns, ...Object.keys(items[0] ?? {}).filter((k) => !columns.includes(k) && k !== 'object')]
  const hasExtra = items.some((item) => extra(item).length > 0)
  return table(
    [...keys, ...(hasExtra ? [''] : [])],
    items,
    (item) => [
      ...keys.map((k) => (k === 'status' ? status(item[k]) : /(_at|^at|^since|^until|^when)$/.test(k) ? when(item[k]) : cell(item[k]))),
      ...(hasExtra ? [h('span', { class: 'actions' }, extra(item))] : []),
    ],
    props,
  )
}

async function overviewPage() {
  const overview = await api('GET', '/overview')
  const sections = Object.entries(overview ?? {}).filter(([key]) => key !== 'object')
  const scalars = sections.filter(([, v]) => v === null || typeof v !== 'object')
  const lists = sections.filter(([, v]) => Array.isArray(v) || Array.isArray(v?.data))
  const objects = sections.filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v) && !Array.isArray(v.data))
  return h(
    'section',
    {},
    h('h1', {}, 'Operator overview'),
    scalars.length
      ? h(
          'dl',
          { class: 'facts' },
          scalars.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, cell(v))]),
        )
      : null,
    objects.map(([k, v]) => [
      h('h2', {}, k),
      h(
        'dl',
        { class: 'facts' },
        Object.entries(v).flatMap(([kk, vv]) => [h('dt', {}, kk), h('dd', {}, cell(vv))]),
      ),
    ]),
    lists.map(([k, v]) => [h('h2', {}, k), autoTable(list(v), [])]),
  )
}

async function tenantsPage() {
  const message = h('div', { 'aria-live': 'polite' })
  const holder = h('div')
  const refresh = async () => {
    const tenants = list(await api('GET', '/tenants'))
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

async function deadLettersPage() {
  const message = h('div', { 'aria-live': 'polite' })
  const holder = h('div')
  const refresh = async () => {
    const data = await api('GET', '/dead-letters')
    const groups =
      Array.isArray(data) || Array.isArray(data?.data)
        ? [['Dead letters', list(data)]]
        : Object.entries(data ?? {}).filter(([, v]) => Array.isArray(v) || Array.isArray(v?.data))
    holder.replaceChildren(
      ...groups.flatMap(([kind, items]) => [
        h('h2', {}, kind),
        autoTable(list(items), ['id', 'status'], (item) =>
          item.status && item.status !== 'pending'
            ? []
            : [
                h(
                  'button',
                  {
                    type: 'button',
                    'aria-label': `Replay ${item.id}`,
                    onclick: async () => {
                      try {
                        await api('POST', `/dead-letters/${enc(kind)}/${enc(item.id)}/replay`)
                        message.replaceChildren(notice('ok', `Replayed ${item.id}.`))
                      } catch (err) {
                        message.replaceChildren(notice('error', err.message))
                      }
                      await refresh()
                    },
                  },
                  'Replay',
                ),
              ],
        ),
      ]),
    )
  }
  await refresh()
  return h('section', {}, h('h1', {}, 'Dead letters'), message, holder)
}

async function meterPushesPage() {
  const pushes = list(await api('GET', '/meter-pushes'))
  return h('section', {}, h('h1', {}, 'Meter pushes'), autoTable(pushes, ['tenant_id', 'status']))
}

async function auditPage(ctx) {
  const filters = ['actor', 'action', 'tenant_id', 'since', 'until']
  const inputs = Object.fromEntries(
    filters.map((f) => [f, h('input', { name: f, type: f === 'since' || f === 'until' ? 'datetime-local' : 'text', value: ctx.search.get(f) ?? '' })]),
  )
  const holder = h('div')
  const load = async () => {
    const params = { limit: 100 }
    for (const f of filters) {
      const v = inputs[f].value.trim()
      if (v) params[f] = f === 'since' || f === 'until' ? new Date(v).toISOString() : v
    }
    try {
      const rows = list(await api('GET', `/audit${query(params)}`))
      holder.replaceChildren(autoTable(rows, ['at', 'actor', 'action', 'tenant_id', 'target'], () => [], { 'data-testid': 'audit-table' }))
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
    field('Action', inputs.action),
    field('Tenant id', inputs.tenant_id),
    field('Since', inputs.since),
    field('Until', inputs.until),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  )
  await load()
  return h('section', {}, h('h1', {}, 'Audit log'), form, holder)
}

/** Fleet desired state and prices come from other admin services; until the server proxies them, say so. */
const optionalPage = (title, path, columns) => async () => {
  try {
    const data = await api('GET', path)
    return h('section', {}, h('h1', {}, title), autoTable(list(data), columns))
  } catch (err) {
    if (err instanceof ApiError && err.status === 404)
      return h('section', {}, h('h1', {}, title), h('p', { class: 'hint' }, `${title} are not available on this server yet.`))
    throw err
  }
}

export const operatorRoutes = [
  { pattern: /^\/dashboard\/ops$/, page: overviewPage },
  { pattern: /^\/dashboard\/ops\/tenants$/, page: tenantsPage },
  { pattern: /^\/dashboard\/ops\/nodes$/, page: nodesPage },
  { pattern: /^\/dashboard\/ops\/dead-letters$/, page: deadLettersPage },
  { pattern: /^\/dashboard\/ops\/meter-pushes$/, page: meterPushesPage },
  { pattern: /^\/dashboard\/ops\/audit$/, page: auditPage },
  { pattern: /^\/dashboard\/ops\/fleet$/, page: optionalPage('Fleet', '/fleet', ['model']) },
  { pattern: /^\/dashboard\/ops\/prices$/, page: optionalPage('Prices', '/prices', ['model']) },
]
