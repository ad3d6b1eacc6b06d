// Operator pages for fleets (/dashboard/ops/fleet: each model's desired state against what runs, and a form to
// set or change one: min_ready, max_nodes, placements as JSON) and prices (/dashboard/ops/prices: every model's
// price in force, the versions ahead and behind, and a form to set a version). They call the console's operator
// API (/dashboard/api/fleets, /dashboard/api/prices), which runs the admin API's own services; amounts stay the
// server's exact decimal strings (shown as sent, never parsed into floats).
import { api, enc, list } from '../api.js'
import { field, h, notice, number, status, table, usd, when } from '../dom.js'

const PLACEMENT_EXAMPLE = [{ provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', gpu_count: 1, use_spot: true }]

function fleetSummary(f, onEdit, onDelete) {
  const d = f.desired ?? {}
  const a = f.actual ?? {}
  return h(
    'section',
    { 'data-testid': 'fleet', dataset: { model: f.model } },
    h('h2', {}, f.model),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Desired'),
      h('dd', {}, `min ready ${number(d.min_ready)}, at most ${number(d.max_nodes)} clusters, ${number((d.placements ?? []).length)} placement(s)`),
      h('dt', {}, 'Actual'),
      h(
        'dd',
        { 'data-testid': 'fleet-actual' },
        `${number(a.ready)} ready, ${number(a.launching)} launching, ${number(a.draining)} draining, ${number(a.failed)} failed (${number(a.live)} live)`,
      ),
      h('dt', {}, 'Typical launch to ready'),
      h('dd', {}, f.typical_ready_seconds === null || f.typical_ready_seconds === undefined ? '–' : `${number(f.typical_ready_seconds)} s`),
    ),
    table(['Cluster', 'Status', 'Placement', 'Spot', 'Last error', 'Updated'], a.nodes ?? [], (n) => [
      h('code', {}, n.cluster_name),
      status(n.status),
      number(n.placement),
      n.use_spot ? 'yes' : 'no',
      n.last_error,
      when(n.updated_at ?? n.created_at),
    ]),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', onclick: () => onEdit(f) }, 'Edit'),
      h('button', { type: 'button', onclick: () => onDelete(f) }, 'Stop managing'),
    ),
  )
}

export async function fleetPage() {
  const message = h('div', { 'aria-live': 'polite' })
  const holder = h('div')
  const model = h('input', { name: 'model', required: true, placeholder: 'Qwen/Qwen2.5-7B-Instruct', maxlength: 256 })
  const minReady = h('input', { name: 'min_ready', type: 'number', min: 0, max: 64, required: true, value: '1' })
  const maxNodes = h('input', { name: 'max_nodes', type: 'number', min: 1, max: 64, required: true, value: '2' })
  const fallback = h('input', { name: 'fallback_on_demand_after', type: 'number', min: 1, max: 100, placeholder: 'never' })
  const placements = h('textarea', { name: 'placements', rows: 6, cols: 70, required: true, spellcheck: false })
  placements.value = JSON.stringify(PLACEMENT_EXAMPLE, null, 2)

  const refresh = async () => {
    const fleets = list(await api('GET', '/fleets'))
    holder.replaceChildren(...(fleets.length ? fleets.map((f) => fleetSummary(f, edit, remove)) : [h('p', { class: 'hint' }, 'No fleets yet.')]))
  }
  function edit(f) {
    model.value = f.model
    minReady.value = String(f.desired.min_ready)
    maxNodes.value = String(f.desired.max_nodes)
    fallback.value = f.desired.fallback_on_demand_after ? String(f.desired.fallback_on_demand_after) : ''
    placements.value = JSON.stringify(f.desired.placements, null, 2)
    model.focus()
  }
  async function remove(f) {
    try {
      await api('DELETE', `/fleets/${enc(f.model)}`)
      message.replaceChildren(notice('ok', `Fleet ${f.model} is no longer managed; its nodes keep running (terminate them on the Nodes page).`))
      await refresh()
    } catch (err) {
      message.replaceChildren(notice('error', err.message))
    }
  }
  const form = h(
    'form',
    {
      'aria-label': 'Set a fleet',
      class: 'inline',
      onsubmit: async (event) => {
        event.preventDefault()
        let parsed
        try {
          parsed = JSON.parse(placements.value)
        } catch {
          message.replaceChildren(notice('error', 'Placements must be JSON: a list of launch specs without the model.'))
          return
        }
        const body = { min_ready: Number(minReady.value), max_nodes: Number(maxNodes.value), placements: parsed }
        if (fallback.value) body.fallback_on_demand_after = Number(fallback.value)
        try {
          const fleet = await api('PUT', `/fleets/${enc(model.value.trim())}`, body)
          const launched = (fleet.reconcile?.actions ?? []).filter((a) => a.action === 'launch').length
          message.replaceChildren(notice('ok', `Fleet ${fleet.model} saved; the reconciler launched ${launched} node(s) now.`))
          await refresh()
        } catch (err) {
          message.replaceChildren(notice('error', err.message))
        }
      },
    },
    field('Model', model),
    field('Min ready', minReady),
    field('Max nodes', maxNodes),
    field('On-demand after spot failures', fallback),
    field('Placements (JSON)', placements),
    h('button', { type: 'submit', class: 'primary' }, 'Save fleet'),
  )
  await refresh()
  return h('section', {}, h('h1', {}, 'Fleets'), form, message, holder)
}

export async function pricesPage() {
  const message = h('div', { 'aria-live': 'polite' })
  const holder = h('div', { 'data-testid': 'prices' })
  const model = h('input', { name: 'model', required: true, placeholder: 'Qwen/Qwen2.5-7B-Instruct', maxlength: 256 })
  const amount = (name) => h('input', { name, inputmode: 'decimal', pattern: '\\d{1,9}(\\.\\d{1,6})?', placeholder: '0.60' })
  const input = amount('input')
  input.required = true
  const output = amount('output')
  // Optional: the price of prompt tokens the node served from its prefix cache; empty = the input price.
  const cachedInput = amount('cached_input')
  const from = h('input', { name: 'effective_from', type: 'datetime-local' })
  /** A version's cached-input price, or a note that cached tokens cost the input price. */
  const cachedOf = (v) => (v?.cached_input == null ? 'as input' : usd(v.cached_input))

  const refresh = async () => {
    const books = list(await api('GET', '/prices'))
    const now = Date.now()
    holder.replaceChildren(
      table(['Model', 'Input (USD / M tokens)', 'Cached prompt (USD / M tokens)', 'Output (USD / M tokens)', 'In force since', 'Versions'], books, (b) => [
        h('code', {}, b.model),
        usd(b.current?.input),
        b.current ? cachedOf(b.current) : usd(undefined),
        usd(b.current?.output),
        b.current ? when(b.current.effective_from) : 'no price in force',
        h(
          'ul',
          {},
          (b.data ?? []).map((v) =>
            h(
              'li',
              {},
              `${usd(v.input)} / ${usd(v.output)}, cached prompt ${cachedOf(v)}, from ${when(v.effective_from)}`,
              Date.parse(v.effective_from) > now ? ' (ahead)' : '',
            ),
          ),
        ),
      ]),
    )
  }
  const form = h(
    'form',
    {
      'aria-label': 'Set a price',
      class: 'inline',
      onsubmit: async (event) => {
        event.preventDefault()
        const body = { input: input.value.trim() }
        if (output.value.trim()) body.output = output.value.trim()
        if (cachedInput.value.trim()) body.cached_input = cachedInput.value.trim()
        if (from.value) body.effective_from = new Date(from.value).toISOString()
        try {
          const version = await api('PUT', `/prices/${enc(model.value.trim())}`, body)
          message.replaceChildren(
            notice(
              'ok',
              `Price of ${version.model} set: ${usd(version.input)} in, ${usd(version.output)} out per million tokens, from ${when(version.effective_from)}.`,
            ),
          )
          await refresh()
        } catch (err) {
          message.replaceChildren(notice('error', err.message))
        }
      },
    },
    field('Model', model),
    field('Input USD / M tokens', input),
    field('Output USD / M tokens', output),
    field('Cached-prompt price, USD / M tokens (optional, at most the input price; empty: the input price)', cachedInput),
    field('Effective from (default: in 5 minutes)', from),
    h('button', { type: 'submit', class: 'primary' }, 'Set price'),
  )
  await refresh()
  return h('section', {}, h('h1', {}, 'Prices'), form, message, holder)
}
