// Operator: the node fleet with live status (polled every 2 s while the page is open), the launch form (the launch
// API's fields: provider, region, gpu, gpu_count, model, use_spot, disk_size, vllm_args, allow_remote_code) and
// per-node drain, resume, terminate and relaunch.
import { api, enc, list } from '../api.js'
import { field, h, notice, number, status, table, when } from '../dom.js'

const POLL_MS = 2000
const PROVIDERS = ['gcp', 'aws', 'azure', 'lambda', 'oci']
/** Which buttons a row shows: the admin services' own rules (services/nodes/node-admin.ts DRAINABLE, RESUMABLE; terminate and relaunch in node-launches.ts), so a click is not refused for the status alone. */
const ACTIONS = [
  ['drain', 'Drain', (n) => ['launching', 'warming', 'ready', 'failed'].includes(n.status)],
  ['resume', 'Resume', (n) => ['draining', 'failed', 'warming'].includes(n.status)],
  ['terminate', 'Terminate', (n) => !['terminating', 'terminated', 'gone'].includes(n.status)],
  ['relaunch', 'Relaunch', (n) => ['failed', 'terminated'].includes(n.status)],
]

/** Whitespace-separated vLLM arguments (`--max-model-len 8192`) as the launch API's string array. */
const splitArgs = (text) => text.split(/\s+/).filter(Boolean)

function launchForm(onLaunched, message) {
  const controls = {
    provider: h(
      'select',
      { name: 'provider' },
      PROVIDERS.map((p) => h('option', { value: p }, p)),
    ),
    region: h('input', { name: 'region', placeholder: 'us-central1', pattern: '[a-z0-9][a-z0-9\\-]{0,62}' }),
    gpu: h('input', { name: 'gpu', required: true, placeholder: 'A100-80GB' }),
    gpu_count: h('input', { name: 'gpu_count', type: 'number', min: 1, max: 16, value: 1 }),
    model: h('input', { name: 'model', required: true, placeholder: 'Qwen/Qwen2.5-7B-Instruct' }),
    disk_size: h('input', { name: 'disk_size', type: 'number', min: 50, max: 16384, value: 256 }),
    vllm_args: h('input', { name: 'vllm_args', placeholder: '--max-model-len 8192' }),
    use_spot: h('input', { name: 'use_spot', type: 'checkbox' }),
    allow_remote_code: h('input', { name: 'allow_remote_code', type: 'checkbox' }),
  }
  const form = h(
    'form',
    {
      'aria-label': 'Launch node',
      class: 'grid',
      onsubmit: async (event) => {
        event.preventDefault()
        const c = controls
        const spec = {
          provider: c.provider.value,
          ...(c.region.value.trim() ? { region: c.region.value.trim() } : {}),
          gpu: c.gpu.value.trim(),
          gpu_count: Number(c.gpu_count.value),
          model: c.model.value.trim(),
          disk_size: Number(c.disk_size.value),
          use_spot: c.use_spot.checked,
          vllm_args: splitArgs(c.vllm_args.value),
          ...(c.allow_remote_code.checked ? { allow_remote_code: true } : {}),
        }
        try {
          const launched = await api('POST', '/nodes/launch', spec)
          message.replaceChildren(notice('ok', `Launching ${launched.cluster_name ?? launched.node_id ?? ''}.`))
          await onLaunched()
        } catch (err) {
          message.replaceChildren(notice('error', err.message))
        }
      },
    },
    field('Provider', controls.provider),
    field('Region', controls.region),
    field('GPU', controls.gpu),
    field('GPU count', controls.gpu_count),
    field('Model', controls.model),
    field('Disk size (GB)', controls.disk_size),
    field('vLLM arguments', controls.vllm_args),
    field('Spot instance', controls.use_spot),
    field('Allow remote code', controls.allow_remote_code),
    h('button', { type: 'submit', class: 'primary' }, 'Launch node'),
  )
  return form
}

export async function nodesPage(ctx) {
  const message = h('div', { 'aria-live': 'polite' })
  const holder = h('div')
  const updated = h('p', { class: 'hint' })

  const act = async (node, action, label) => {
    if (action === 'terminate' && !confirm(`Terminate ${node.name}? It drains, then its machine is deleted.`)) return
    try {
      // drain/resume address the node by id, terminate/relaunch by cluster name (as the admin API does)
      await api('POST', `/nodes/${enc(action === 'drain' || action === 'resume' ? node.id : node.name)}/${action}`)
      message.replaceChildren(notice('ok', `${label}: ${node.name}.`))
    } catch (err) {
      message.replaceChildren(notice('error', err.message))
    }
    await refresh()
  }

  async function refresh() {
    const nodes = list(await api('GET', '/nodes'))
    if (!ctx.isCurrent()) return
    holder.replaceChildren(
      table(
        ['Name', 'Status', 'Models', 'Endpoint', 'Where', 'Breaker', 'In flight', 'Last error', 'Created', ''],
        nodes,
        (n) => [
          n.name,
          status(n.status),
          (n.models ?? []).join(', '),
          n.endpoint || '–',
          [n.provider, n.region, n.gpu].filter(Boolean).join(' · ') || 'registered by hand',
          n.breaker ? status(n.breaker.state) : '–',
          number(n.load?.in_flight ?? n.in_flight),
          n.last_error ?? '–',
          when(n.created_at),
          h(
            'span',
            { class: 'actions' },
            ACTIONS.filter(([, , allowed]) => allowed(n)).map(([action, label]) =>
              h('button', { type: 'button', 'aria-label': `${label} ${n.name}`, onclick: () => act(n, action, label) }, label),
            ),
          ),
        ],
        { 'data-testid': 'nodes-table' },
      ),
    )
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${POLL_MS / 1000} s.`
  }

  await refresh()
  const timer = setInterval(() => void refresh().catch((err) => message.replaceChildren(notice('error', err.message))), POLL_MS)
  ctx.onLeave(() => clearInterval(timer))
  return h('section', {}, h('h1', {}, 'Nodes'), holder, updated, h('h2', {}, 'Launch node'), launchForm(refresh, message), message)
}
