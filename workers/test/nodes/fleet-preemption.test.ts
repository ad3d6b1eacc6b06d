// POST /nodes/preemption-notice: a fleet node warned by its cloud drains at once (out of routing, its terminate
// handed to its monitor) and its fleet launches the replacement without waiting for failed health checks; the
// node's registration token is required (401 before the body for a malformed one), and a repeat changes nothing.
import { runDurableObjectAlarm } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it, vi } from 'vitest'
import { admin, api, call, seedTenant } from '../helpers/gateway.ts'
import { ack, pullFor, runner } from '../helpers/node-ops.ts'

// Only read here (the reconciler test file changes the knobs of the other fleet stand-in).
const [endpoint] = inject('pools').fleet as [string, string]
const PLACEMENT = { provider: 'aws', region: 'us-east-1', gpu: 'A100', gpu_count: 8, use_spot: true }

type FleetNode = { cluster_name: string; node_id: string; status: string }
const nodesOf = async (model: string) =>
  ((await (await admin(`/admin/fleet/${encodeURIComponent(model)}`)).json()) as { actual: { nodes: FleetNode[] } }).actual.nodes
const notice = (token: string, json: unknown) => call('/nodes/preemption-notice', { method: 'POST', json, headers: { authorization: `Bearer ${token}` } })

async function readyFleetNode(model: string): Promise<FleetNode & { token: string }> {
  const res = await admin(`/admin/fleet/${encodeURIComponent(model)}`, { method: 'PUT', json: { min_ready: 1, max_nodes: 2, placements: [PLACEMENT] } })
  expect(res.status).toBe(201)
  const [node] = await nodesOf(model)
  if (!node) throw new Error('no launch')
  await ack((await pullFor(node.cluster_name)).wire.lease_id)
  await runner(`/runner/nodes/${node.cluster_name}/status`, { json: { status: 'launching' } })
  const { register_token: token } = (await (await runner(`/runner/nodes/${node.cluster_name}/credentials`)).json()) as { register_token: string }
  const registered = await call('/nodes/register', {
    method: 'POST',
    json: { cluster_name: node.cluster_name, endpoint, models: [model] },
    headers: { authorization: `Bearer ${token}` },
  })
  expect(registered.status).toBe(200)
  await vi.waitFor(async () => expect((await nodesOf(model))[0]?.status).toBe('ready'), { timeout: 5_000, interval: 50 })
  return { ...node, token }
}

describe('POST /nodes/preemption-notice', () => {
  it('drains the node at once and its fleet launches the replacement before any health check fails', async () => {
    const model = 'pool-7'
    const { key } = await seedTenant()
    const node = await readyFleetNode(model)
    const chat = () => api(key, '/v1/chat/completions', { method: 'POST', json: { model, messages: [{ role: 'user', content: 'hi' }] } })
    expect((await chat()).status).toBe(200)

    const res = await notice(node.token, { cluster_name: node.cluster_name, source: 'aws_spot_interruption', not_after: Date.now() + 120_000 })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ object: 'node.preemption_notice', cluster_name: node.cluster_name, status: 'draining', applied: true })
    // Out of routing at once (this isolate's node list was invalidated by the change): 503 with Retry-After, not 404.
    const refused = await chat()
    expect(refused.status).toBe(503)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)

    // The fleet was nudged: its alarm (due now) launches the replacement; the draining node still counts as live.
    const replacement = await vi.waitFor(
      async () => {
        await runDurableObjectAlarm(env.FLEET_RECONCILER.getByName(`fleet:${model}`))
        const found = (await nodesOf(model)).find((n) => n.node_id !== node.node_id)
        expect(found).toBeDefined()
        return found
      },
      { timeout: 5_000, interval: 50 },
    )
    expect(replacement?.status).toBe('queued')
    const audit = (await (await admin(`/admin/audit?target=${node.node_id}`)).json()) as { data: { actor: string; action: string; after: unknown }[] }
    expect(audit.data[0]).toMatchObject({ actor: 'node', action: 'node.preemption_notice', after: { status: 'draining', source: 'aws_spot_interruption' } })

    // A repeat (the watcher retries) changes nothing.
    const again = await notice(node.token, { cluster_name: node.cluster_name, source: 'aws_spot_interruption' })
    expect(await again.json()).toMatchObject({ status: 'draining', applied: false })
  })

  it('refuses a wrong or malformed token with 401, a malformed one before reading the body', async () => {
    const node = await readyFleetNode('pool-8')
    const wrong = await notice(`cicreg_${'A'.repeat(43)}`, { cluster_name: node.cluster_name, source: 'gcp_preemption' })
    expect(wrong.status).toBe(401)
    expect(await wrong.json()).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_registration_token' } })
    const malformed = await call('/nodes/preemption-notice', { method: 'POST', body: 'not json', headers: { authorization: 'Bearer nope' } })
    expect(malformed.status).toBe(401)
    const bad = await notice(node.token, { cluster_name: node.cluster_name, source: 'moon' })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: { param: 'source' } })
    expect((await nodesOf('pool-8'))[0]?.status).toBe('ready')
  })
})
