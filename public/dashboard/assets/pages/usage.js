// A tenant's usage over a chosen range: hourly or daily buckets in the viewer's time zone, optionally by model or
// by key; a Chart.js bar chart (canvas, test id usage-chart) with the same numbers in a table (usage-table) and a
// CSV export of the same query. Cost (exact USD decimal strings) in the totals, the table and the CSV.
import { API, api, enc, query } from '../api.js'
import { barChart } from '../bar-chart.js'
import { field, h, notice, number, table, usd } from '../dom.js'

const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone
const DAY_MS = 86_400_000
const METRICS = [
  ['total_tokens', 'Tokens'],
  ['requests', 'Requests'],
  ['cost_usd', 'Cost (USD)'],
]

/** yyyy-mm-dd of a date in the viewer's time zone (for <input type=date>). */
const isoDay = (date) => `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`
/** Local midnight of a yyyy-mm-dd day, as an ISO instant. */
const dayStart = (day, plusDays = 0) => {
  const [y, m, d] = day.split('-').map(Number)
  return new Date(y, m - 1, d + plusDays).toISOString()
}

function bucketLabel(iso, granularity) {
  const date = new Date(iso)
  return granularity === 'day'
    ? date.toLocaleDateString(undefined, { timeZone: TIME_ZONE, month: 'short', day: 'numeric' })
    : date.toLocaleString(undefined, { timeZone: TIME_ZONE, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
}

export async function usagePage(ctx, tenant) {
  const today = new Date()
  const from = h('input', { type: 'date', name: 'from', required: true, value: ctx.search.get('from') ?? isoDay(new Date(today.getTime() - DAY_MS)) })
  const to = h('input', { type: 'date', name: 'to', required: true, value: ctx.search.get('to') ?? isoDay(today) })
  const granularity = h(
    'select',
    { name: 'granularity' },
    h('option', { value: 'hour' }, 'Hourly'),
    h('option', { value: 'day', selected: ctx.search.get('granularity') === 'day' }, 'Daily'),
  )
  const groupBy = h(
    'select',
    { name: 'group_by' },
    h('option', { value: '' }, 'Nothing'),
    h('option', { value: 'model', selected: ctx.search.get('group_by') === 'model' }, 'Model'),
    h('option', { value: 'key', selected: ctx.search.get('group_by') === 'key' }, 'Key'),
  )
  const metric = h(
    'select',
    { name: 'metric' },
    METRICS.map(([value, label]) => h('option', { value }, label)),
  )
  const result = h('div', { 'aria-live': 'polite' })
  const csv = h('a', { download: 'usage.csv', class: 'button' }, 'Export CSV')
  let chart = null
  let last = null
  ctx.onLeave(() => chart?.destroy())

  const params = () => ({
    start: dayStart(from.value),
    end: dayStart(to.value, 1),
    granularity: granularity.value,
    tz: TIME_ZONE,
    group_by: groupBy.value,
  })

  async function load() {
    const p = params()
    csv.href = `${API}/tenants/${enc(tenant.id)}/usage.csv${query(p)}`
    try {
      last = { usage: await api('GET', `/tenants/${enc(tenant.id)}/usage${query(p)}`), granularity: p.granularity }
      draw()
    } catch (err) {
      result.replaceChildren(notice('error', err.message))
    }
  }

  function draw() {
    const { usage, granularity: g } = last
    const series = usage.series ?? []
    const hasCost = typeof usage.totals?.cost_usd === 'string'
    const key = metric.value === 'cost_usd' && !hasCost ? 'total_tokens' : metric.value
    const buckets = [...new Set(series.map((row) => row.bucket_start))].sort()
    const groups = [...new Set(series.map((row) => row.group ?? 'all'))]
    // Bar heights only: cost_usd is an exact decimal string; the chart draws its Number (the table shows the string).
    const valueAt = new Map(series.map((row) => [`${row.bucket_start}\u0000${row.group ?? 'all'}`, Number(row[key] ?? 0)]))
    chart?.destroy()
    chart = barChart({
      testId: 'usage-chart',
      ariaLabel: `Usage chart: ${METRICS.find(([k]) => k === key)[1]} per ${g}`,
      labels: buckets.map((b) => bucketLabel(b, g)),
      datasets: groups.map((group) => ({ label: group, data: buckets.map((b) => valueAt.get(`${b}\u0000${group}`) ?? 0) })),
    })
    const totals = usage.totals ?? {}
    result.replaceChildren(
      h(
        'p',
        { 'data-testid': 'usage-totals' },
        `${number(totals.requests)} requests, ${number(totals.total_tokens)} tokens (${number(totals.prompt_tokens)} prompt, ${number(totals.completion_tokens)} completion)`,
        hasCost ? `, ${usd(totals.cost_usd)}` : '',
        ` · times in ${TIME_ZONE}`,
      ),
      chart.node,
      table(
        [
          'Bucket',
          ...(groups.length > 1 || groupBy.value ? ['Group'] : []),
          'Requests',
          'Prompt tokens',
          'Completion tokens',
          'Total tokens',
          ...(hasCost ? ['Cost'] : []),
        ],
        series,
        (row) => [
          bucketLabel(row.bucket_start, g),
          ...(groups.length > 1 || groupBy.value ? [row.group ?? 'all'] : []),
          number(row.requests),
          number(row.prompt_tokens),
          number(row.completion_tokens),
          number(row.total_tokens),
          ...(hasCost ? [usd(row.cost_usd)] : []),
        ],
        { 'data-testid': 'usage-table' },
      ),
    )
  }

  const form = h(
    'form',
    {
      'aria-label': 'Usage range',
      class: 'inline',
      onsubmit: (event) => {
        event.preventDefault()
        void load()
      },
    },
    field('From', from),
    field('To', to),
    field('Buckets', granularity),
    field('Split by', groupBy),
    field('Show', metric),
    h('button', { type: 'submit', class: 'primary' }, 'Show usage'),
    csv,
  )
  metric.addEventListener('change', () => last && draw())
  await load()
  return h('section', {}, h('h1', {}, 'Usage'), form, result)
}
