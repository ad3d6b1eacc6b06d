// PUT/GET/DELETE /admin/fleet/:model and GET /admin/fleet: validation (each refusal names its field), auth, audit,
// the URL-encoded model id, and desired against actual right after the first reconcile.
import { describe, expect, it } from 'vitest'
import { admin, call } from '../helpers/gateway.ts'
import { ack, pullFor } from '../helpers/node-ops.ts'

const PLACEMENT = { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', gpu_count: 1, use_spot: true }
const FLEET = { min_ready: 1, max_nodes: 2, placements: [PLACEMENT] }
const path = (model: string) => `/admin/fleet/${encodeURIComponent(model)}`

type FleetBody = {
  model: string
  desired: Record<string, unknown>
  actual: { ready: number; launching: number; live: number; nodes: { cluster_name: string; status: string; use_spot: boolean }[] }
  recent_actions: { actor: string; action: string }[]
  reconcile: { actions: { action: string; cluster_name: string | null }[] } | null
}

describe('PUT /admin/fleet/:model', () => {
  it('creates the fleet (201), audits it, launches its first node and shows desired against actual', async () => {
    const model = 'Qwen/Qwen2.5-7B-Instruct'
    const res = await admin(path(model), { method: 'PUT', json: { ...FLEET, fallback_on_demand_after: 2 } })
    expect(res.status).toBe(201)
    const body = (await res.json()) as FleetBody
    expect(body).toMatchObject({
      object: 'fleet',
      model,
      desired: { min_ready: 1, max_nodes: 2, fallback_on_demand_after: 2, placements: [{ ...PLACEMENT, disk_size: 256, vllm_args: [] }] },
      actual: { ready: 0, launching: 1, live: 1 },
    })
    const cluster = body.actual.nodes[0]?.cluster_name ?? ''
    expect(cluster).toMatch(/^cic-fl-[0-9a-f]{8}-[0-9a-z]+-1$/)
    expect(body.reconcile?.actions).toEqual([{ action: 'launch', cluster_name: cluster }])
    // Audit: the admin's put, then the reconciler's launch (newest first).
    expect(body.recent_actions.map((a) => [a.actor, a.action])).toEqual([
      ['reconciler', 'fleet.launch'],
      ['admin', 'fleet.put'],
    ])
    const { wire, message } = await pullFor(cluster)
    expect(message).toMatchObject({ op: 'launch', spec: { model, provider: 'gcp', use_spot: true, gpu: 'A100-80GB' } })
    await ack(wire.lease_id)

    const again = await admin(path(model), { method: 'PUT', json: { ...FLEET, min_ready: 1, max_nodes: 3 } })
    expect(again.status).toBe(200)
    const changed = (await again.json()) as FleetBody
    expect(changed.desired).toMatchObject({ max_nodes: 3, fallback_on_demand_after: null })
    expect(changed.reconcile?.actions).toEqual([]) // one launch is already on its way
    const audit = (await (await admin(`/admin/audit?target=${encodeURIComponent(`fleet:${model}`)}&actor=admin`)).json()) as {
      data: { action: string; before: unknown; after: unknown }[]
    }
    expect(audit.data[0]).toMatchObject({ action: 'fleet.put', before: { max_nodes: 2 }, after: { max_nodes: 3 } })
  })

  it.each([
    [{ ...FLEET, min_ready: -1 }, 'min_ready'],
    [{ ...FLEET, min_ready: 3, max_nodes: 2 }, 'max_nodes'],
    [{ ...FLEET, max_nodes: 0 }, 'max_nodes'],
    [{ ...FLEET, max_nodes: 65 }, 'max_nodes'],
    [{ ...FLEET, placements: [] }, 'placements'],
    [{ ...FLEET, placements: [{ ...PLACEMENT, provider: 'moon' }] }, 'placements.0.provider'],
    [{ ...FLEET, placements: [PLACEMENT, { ...PLACEMENT, provider: 'kubernetes' }] }, 'placements.1.provider'],
    [{ ...FLEET, placements: [{ ...PLACEMENT, provider: 'aws', gpu: 'A100', gpu_count: 1 }] }, 'placements.0.gpu_count'],
    [{ ...FLEET, placements: [{ ...PLACEMENT, vllm_args: ['--api_key=x'] }] }, 'placements.0.vllm_args.0'],
    [{ ...FLEET, placements: [{ ...PLACEMENT, model: 'other' }] }, 'placements.0.model'],
    [{ ...FLEET, fallback_on_demand_after: 0 }, 'fallback_on_demand_after'],
    [{ ...FLEET, colour: 'blue' }, 'colour'],
  ])('returns 400 naming the bad field (%#: %s)', async (json, param) => {
    const res = await admin(path('bad-fleet'), { method: 'PUT', json })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param } })
    expect(res.headers.get('x-request-id')).toBeTruthy()
  })

  it('refuses a model id that is not a launchable model id', async () => {
    const res = await admin('/admin/fleet/bad%20model', { method: 'PUT', json: FLEET })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { param: 'model', code: 'invalid_model' } })
  })

  it('answers 401 without the admin token, before reading the body', async () => {
    const res = await call(path('any-model'), { method: 'PUT', json: FLEET })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { type: 'authentication_error' } })
  })
})

describe('GET and DELETE /admin/fleet', () => {
  it('lists fleets, shows one, and stops managing it on DELETE (its nodes stay)', async () => {
    const model = 'org/list-me'
    expect((await admin(path(model), { method: 'PUT', json: { ...FLEET, min_ready: 0 } })).status).toBe(201)
    const list = (await (await admin('/admin/fleet')).json()) as { object: string; data: { model: string }[] }
    expect(list.object).toBe('list')
    expect(list.data.map((f) => f.model)).toContain(model)
    expect(((await (await admin(path(model))).json()) as FleetBody).actual).toMatchObject({ ready: 0, launching: 0, live: 0 })

    const deleted = await admin(path(model), { method: 'DELETE' })
    expect(deleted.status).toBe(200)
    expect(await deleted.json()).toMatchObject({ model, deleted: true })
    const gone = await admin(path(model))
    expect(gone.status).toBe(404)
    expect(await gone.json()).toMatchObject({ error: { code: 'fleet_not_found', param: 'model' } })
    expect((await admin(path(model), { method: 'DELETE' })).status).toBe(404)
    const audit = (await (await admin(`/admin/audit?target=${encodeURIComponent(`fleet:${model}`)}`)).json()) as { data: { action: string }[] }
    expect(audit.data.map((a) => a.action)).toEqual(['fleet.delete', 'fleet.put'])
  })
})
