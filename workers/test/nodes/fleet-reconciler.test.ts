// The fleet reconciler end to end inside workerd: it launches up to min_ready, replaces a preempted node with no
// admin call (NodeMonitor → nudge → reconciler alarm), answers 503 + Retry-After and keeps the model listed while
// no node is ready, moves through placements, falls back to on-demand after spot capacity failures, and never has
// more than max_nodes clusters under concurrent reconciles, concurrent launch claims and 100 redelivered launch
// messages. The runner is played by direct calls to its endpoints; nodes are stand-ins over real TCP.
import { createScheduledController, runDurableObjectAlarm } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import { claimLaunch, readFleet } from '../../../durable-objects/fleet-reconciler/fleet-store.ts'
import worker from '../../src/index.ts'
import { invalidateFleetDirectory } from '../../src/services/fleet/fleet-directory.ts'
import { admin, api, call, seedTenant } from '../helpers/gateway.ts'
import { ack, decode, pull, pullFor, runner } from '../helpers/node-ops.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.ts'
import { standin } from '../helpers/standin.ts'

const [healthyUrl, preemptedUrl] = inject('pools').fleet as [string, string]
const PLACEMENT = { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', gpu_count: 1, use_spot: true }
const fleetPath = (model: string) => `/admin/fleet/${encodeURIComponent(model)}`
const reconciler = (model: string) => env.FLEET_RECONCILER.getByName(`fleet:${model}`)
const monitor = (nodeId: string) => env.NODE_MONITOR.getByName(`node:${nodeId}`)

afterEach(async () => {
  await standin(preemptedUrl).reset()
})

type FleetNodeView = { cluster_name: string; node_id: string; status: string; use_spot: boolean; provider: string; placement: number }
type FleetBody = { actual: { ready: number; launching: number; live: number; nodes: FleetNodeView[] }; recent_actions: { actor: string; action: string }[] }

async function putFleet(model: string, json: Record<string, unknown>): Promise<FleetBody> {
  const res = await admin(fleetPath(model), { method: 'PUT', json })
  if (res.status !== 201 && res.status !== 200) throw new Error(`PUT fleet -> ${res.status}: ${await res.text()}`)
  return (await res.json()) as FleetBody
}
const fleet = async (model: string) => (await (await admin(fleetPath(model))).json()) as FleetBody
const nodesOf = async (model: string) => (await fleet(model)).actual.nodes

/** The runner takes the launch (launching), gets credentials, and the node registers at `endpoint`; waits for ready. */
async function bringUp(node: FleetNodeView, endpoint: string, model: string): Promise<void> {
  await ack((await pullFor(node.cluster_name)).wire.lease_id)
  expect(await (await runner(`/runner/nodes/${node.cluster_name}/status`, { json: { status: 'launching' } })).json()).toMatchObject({ applied: true })
  const creds = (await (await runner(`/runner/nodes/${node.cluster_name}/credentials`)).json()) as { register_token: string }
  const res = await call('/nodes/register', {
    method: 'POST',
    json: { cluster_name: node.cluster_name, endpoint, models: [model] },
    headers: { authorization: `Bearer ${creds.register_token}` },
  })
  expect(res.status).toBe(200)
  await vi.waitFor(async () => expect((await nodesOf(model)).find((n) => n.node_id === node.node_id)?.status).toBe('ready'), { timeout: 5_000, interval: 50 })
}

/** The runner reports the launch failed with `error` (after taking it). */
async function failLaunch(node: FleetNodeView, error: string): Promise<void> {
  await ack((await pullFor(node.cluster_name)).wire.lease_id)
  await runner(`/runner/nodes/${node.cluster_name}/status`, { json: { status: 'launching' } })
  expect(await (await runner(`/runner/nodes/${node.cluster_name}/status`, { json: { status: 'failed', error } })).json()).toMatchObject({ applied: true })
}

const chat = (key: string, model: string) => api(key, '/v1/chat/completions', { method: 'POST', json: { model, messages: [{ role: 'user', content: 'hi' }] } })
const listedModels = async (key: string) => ((await (await api(key, '/v1/models')).json()) as { data: { id: string }[] }).data.map((m) => m.id)

describe('fleet reconciler', () => {
  it('launches up to min_ready, then nothing more while those launches run', async () => {
    const model = 'pool-1'
    const body = await putFleet(model, { min_ready: 2, max_nodes: 3, placements: [PLACEMENT] })
    expect(body.actual).toMatchObject({ launching: 2, live: 2 })
    const names = body.actual.nodes.map((n) => n.cluster_name)
    expect(new Set(names).size).toBe(2)
    for (const name of names) await ack((await pullFor(name)).wire.lease_id)
    const report = await reconciler(model).reconcile(model, 'test')
    expect(report).toMatchObject({ managed: true, pending: 2, live: 2, actions: [] })
    expect((await fleet(model)).recent_actions.filter((a) => a.actor === 'reconciler').map((a) => a.action)).toEqual(['fleet.launch', 'fleet.launch'])
  })

  it('replaces a preempted node with no admin call; meanwhile 503 with Retry-After, and the model stays listed', async () => {
    const model = 'pool-2'
    const { key } = await seedTenant()
    const [first] = (await putFleet(model, { min_ready: 1, max_nodes: 2, placements: [PLACEMENT] })).actual.nodes
    if (!first) throw new Error('no launch')
    await bringUp(first, preemptedUrl, model)
    expect((await chat(key, model)).status).toBe(200)

    // Preemption: the VM is gone, /health stops answering 200. The monitor fails the node after 3 checks.
    await standin(preemptedUrl).setKnobs({ healthStatus: 503 })
    for (let i = 0; i < 3; i++) expect(await runDurableObjectAlarm(monitor(first.node_id))).toBe(true)
    expect((await nodesOf(model)).find((n) => n.node_id === first.node_id)?.status).toBe('failed')
    expect((await pullFor(first.cluster_name)).message).toMatchObject({ op: 'terminate' }) // the monitor's sky down

    // The monitor nudged the fleet: its alarm is due now and launches the replacement (the runtime may fire it
    // before the test does; either way no admin call is involved).
    const replacement = await vi.waitFor(
      async () => {
        await runDurableObjectAlarm(reconciler(model))
        const found = (await nodesOf(model)).find((n) => n.node_id !== first.node_id)
        expect(found).toBeDefined()
        return found
      },
      { timeout: 5_000, interval: 50 },
    )
    expect(replacement).toMatchObject({ status: 'queued', use_spot: true })
    const actions = (await fleet(model)).recent_actions
    expect(actions[0]).toMatchObject({ actor: 'reconciler', action: 'fleet.launch' })
    expect(actions.some((a) => a.actor === 'admin' && a.action !== 'fleet.put')).toBe(false)

    // Isolates see the node's new status within their node directory's refresh (2 s): poll until then.
    const refused = await vi.waitFor(
      async () => {
        const res = await chat(key, model)
        expect(res.status).toBe(503)
        return res
      },
      { timeout: 5_000, interval: 200 },
    )
    expect(await refused.json()).toMatchObject({ error: { type: 'server_error', code: 'no_available_node' } })
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(5)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(await listedModels(key)).toContain(model)

    if (!replacement) throw new Error('no replacement')
    await bringUp(replacement, healthyUrl, model)
    expect((await chat(key, model)).status).toBe(200)
  })

  it('computes Retry-After from the replacement launch and the typical time to ready, and 404s a model with no fleet', async () => {
    const model = 'pool-3'
    const { key } = await seedTenant()
    const [node] = (await putFleet(model, { min_ready: 1, max_nodes: 1, placements: [PLACEMENT] })).actual.nodes
    if (!node) throw new Error('no launch')
    // The launch was decided 10 s ago and this fleet's nodes are usually ready 40 s after that: about 30 s left.
    await env.DB.prepare('UPDATE fleets SET typical_ready_ms = 40000 WHERE model = ?').bind(model).run()
    await env.DB.prepare('UPDATE nodes SET created_at = ? WHERE id = ?')
      .bind(Date.now() - 10_000, node.node_id)
      .run()
    invalidateFleetDirectory()
    const res = await chat(key, model)
    expect(res.status).toBe(503)
    const retryAfter = Number(res.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(28)
    expect(retryAfter).toBeLessThanOrEqual(31)

    // With no node row at all (all forgotten) the fleet still answers 503, not 404.
    await env.DB.prepare('DELETE FROM nodes WHERE id = ?').bind(node.node_id).run()
    invalidateFleetDirectory()
    expect((await chat(key, model)).status).toBe(503)
    expect((await admin(fleetPath(model), { method: 'DELETE' })).status).toBe(200)
    const notFound = await chat(key, model)
    expect(notFound.status).toBe(404)
    expect(await notFound.json()).toMatchObject({ error: { code: 'model_not_found' } })
    expect(await listedModels(key)).not.toContain(model)
  })

  it('tries placements in order and falls back to on-demand after consecutive spot capacity failures', async () => {
    const model = 'pool-4'
    const second = { ...PLACEMENT, provider: 'azure', region: 'eastus' }
    const body = await putFleet(model, { min_ready: 1, max_nodes: 6, placements: [PLACEMENT, second], fallback_on_demand_after: 2 })
    const launches: FleetNodeView[] = [body.actual.nodes[0] as FleetNodeView]
    const next = async () => {
      await reconciler(model).reconcile(model, 'test')
      const known = new Set(launches.map((n) => n.node_id))
      const added = (await nodesOf(model)).filter((n) => !known.has(n.node_id))
      expect(added).toHaveLength(1)
      launches.push(added[0] as FleetNodeView)
      return added[0] as FleetNodeView
    }
    // A placement SkyPilot can never satisfy moves on to the next placement.
    await failLaunch(launches[0] as FleetNodeView, 'unsatisfiable: No launchable resource found')
    expect(await next()).toMatchObject({ provider: 'azure', placement: 1, use_spot: true })
    // Two spot capacity failures in a row: the next launch is on-demand.
    await failLaunch(launches[1] as FleetNodeView, 'no_capacity: InsufficientInstanceCapacity (gave up after 6 attempts)')
    expect(await next()).toMatchObject({ provider: 'gcp', placement: 0, use_spot: true })
    await failLaunch(launches[2] as FleetNodeView, 'no_capacity: ZONE_RESOURCE_POOL_EXHAUSTED (gave up after 6 attempts)')
    const onDemand = await next()
    expect(onDemand).toMatchObject({ provider: 'azure', use_spot: false })
    expect((await pullFor(onDemand.cluster_name)).message).toMatchObject({ op: 'launch', spec: { use_spot: false, provider: 'azure' } })
    expect((await fleet(model)).recent_actions.map((a) => a.action)).toContain('fleet.fallback_on_demand')
  })

  it('counts failed nodes against max_nodes until terminated, then replaces them', async () => {
    const model = 'pool-5'
    const [node] = (await putFleet(model, { min_ready: 1, max_nodes: 1, placements: [PLACEMENT] })).actual.nodes
    if (!node) throw new Error('no launch')
    await failLaunch(node, 'error: boom')
    expect((await reconciler(model).reconcile(model, 'test')).actions).toEqual([{ action: 'blocked_max_nodes', cluster_name: null }])
    // The runner tears the failed cluster down and reports it; the report nudges the fleet (its alarm is due now).
    await runner(`/runner/nodes/${node.cluster_name}/status`, { json: { status: 'terminating' } })
    await runner(`/runner/nodes/${node.cluster_name}/status`, { json: { status: 'terminated' } })
    await vi.waitFor(
      async () => {
        await runDurableObjectAlarm(reconciler(model))
        expect((await nodesOf(model)).map((n) => n.status).sort()).toEqual(['queued', 'terminated'])
      },
      { timeout: 5_000, interval: 50 },
    )
  })

  it('the one-minute cron nudges every fleet, so a fleet whose object missed a change still converges', async () => {
    const model = 'pool-9'
    await putFleet(model, { min_ready: 0, max_nodes: 1, placements: [PLACEMENT] })
    // Desired state changed behind the object's back, and the object lost its alarm (as if its nudge had been lost).
    await env.DB.prepare('UPDATE fleets SET min_ready = 1 WHERE model = ?').bind(model).run()
    await reconciler(model).stop()
    expect(await runDurableObjectAlarm(reconciler(model))).toBe(false)
    expect(await nodesOf(model)).toEqual([])
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '* * * * *' }), env)
    await vi.waitFor(
      async () => {
        await runDurableObjectAlarm(reconciler(model))
        expect((await nodesOf(model)).map((n) => n.status)).toEqual(['queued'])
      },
      { timeout: 5_000, interval: 50 },
    )
  })

  it('exports ready nodes and min_ready per fleet model and the reconciler actions, with no tenant label', async () => {
    const model = 'org/metrics-fleet'
    const scrape = async () => {
      const res = await call('/metrics', { headers: { authorization: 'Bearer test-metrics-token-0123456789' } })
      expect(res.status).toBe(200)
      return parsePrometheusText(await res.text())
    }
    const launchesBefore = sampleValue(await scrape(), 'cic_fleet_reconcile_actions_total', { action: 'launch' })
    await putFleet(model, { min_ready: 2, max_nodes: 2, placements: [PLACEMENT] })
    const families = await scrape()
    expect(sampleValue(families, 'cic_fleet_min_ready', { model })).toBe(2)
    expect(sampleValue(families, 'cic_fleet_ready_nodes', { model })).toBe(0)
    expect(sampleValue(families, 'cic_fleet_reconcile_actions_total', { action: 'launch' })).toBe(launchesBefore + 2)
    expect(sampleValue(families, 'cic_fleet_reconcile_actions_total', { action: 'fallback_on_demand' })).toBeGreaterThanOrEqual(0)
    for (const name of ['cic_fleet_min_ready', 'cic_fleet_ready_nodes', 'cic_fleet_reconcile_actions_total']) {
      for (const sample of families.get(name)?.samples ?? []) expect(Object.keys(sample.labels)).not.toContain('tenant')
    }
  })

  it('never has more than max_nodes clusters under concurrent reconciles, concurrent claims and 100 redelivered launch messages', async () => {
    const model = 'pool-6'
    const body = await putFleet(model, { min_ready: 2, max_nodes: 2, placements: [PLACEMENT] })
    expect(body.actual.live).toBe(2)
    const clusters = new Set(body.actual.nodes.map((n) => n.cluster_name))
    const messages = await Promise.all([...clusters].map(async (name) => (await pullFor(name)).message))
    // One launch fails: the fleet wants a replacement, but the failed cluster still counts until it is terminated.
    const [failing] = messages
    if (!failing) throw new Error('no launch')
    await runner(`/runner/nodes/${failing.cluster_name}/status`, { json: { status: 'launching' } })
    await runner(`/runner/nodes/${failing.cluster_name}/status`, { json: { status: 'failed', error: 'no_capacity: spot' } })

    // 100 redeliveries of each launch message: the queue carries them again and the runner reports each delivery.
    for (const message of messages) {
      await env.NODE_OPS.sendBatch(Array.from({ length: 100 }, () => ({ body: message, contentType: 'json' as const })))
    }
    const reports = messages.flatMap((m) =>
      Array.from({ length: 100 }, () => runner(`/runner/nodes/${m.cluster_name}/status`, { json: { status: 'launching' } }).then((r) => r.json())),
    )
    // …while 100 reconciles run at once through the object, and 50 launch claims race it straight against D1.
    const reconciles = Array.from({ length: 100 }, () => reconciler(model).reconcile(model, 'test'))
    const claims = Array.from({ length: 50 }, async () => {
      const record = await readFleet(env.DB, model)
      if (!record) throw new Error('fleet gone')
      return claimLaunch(env.DB, record, { placement: 0, useSpot: true, trigger: 'test' }, Date.now())
    })
    const [reported, reconciled, claimed] = await Promise.all([Promise.all(reports), Promise.all(reconciles), Promise.all(claims)])
    expect(claimed.filter((c) => c.claimed)).toEqual([])
    expect(reconciled.flatMap((r) => r.actions).filter((a) => a.action === 'launch')).toEqual([])
    // The failed node stays failed; of the other's 100 deliveries exactly one starts its attempt, 99 repeat it.
    const statuses = (reported as { status: string; previous_status: string }[]).map((r) => `${r.previous_status}->${r.status}`)
    expect(statuses.filter((s) => s === 'failed->failed')).toHaveLength(100)
    expect(statuses.filter((s) => s === 'queued->launching')).toHaveLength(1)
    expect(statuses.filter((s) => s === 'launching->launching')).toHaveLength(99)

    const after = await fleet(model)
    expect(after.actual.live).toBe(2)
    expect(new Set(after.actual.nodes.map((n) => n.cluster_name))).toEqual(clusters)
    const { n } = (await env.DB.prepare('SELECT count(*) AS n FROM node_launches WHERE fleet_model = ?').bind(model).first<{ n: number }>()) ?? { n: -1 }
    expect(n).toBe(2)
    // Everything on the queue for this fleet names one of its two clusters.
    const seen = new Set<string>()
    await vi.waitFor(
      async () => {
        for (const wire of await pull({ batch_size: 100, visibility_timeout_ms: 60_000 })) {
          const m = decode(wire)
          if (m.op === 'launch' && m.spec.model === model) seen.add(m.cluster_name)
          await ack(wire.lease_id)
        }
        expect(seen.size).toBeGreaterThan(0)
      },
      { timeout: 5_000, interval: 50 },
    )
    for (const name of seen) expect(clusters.has(name)).toBe(true)
  }, 30_000) // 200 runner reports, 100 reconciles and 50 claims on a shared 2-core machine
})
