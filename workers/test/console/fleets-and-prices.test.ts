// The console's operator routes for fleets and the price book (routes/console/fleet-price-api.ts): the same
// services and answers as /admin/fleet and /admin/models/:model/price, audited as user:<email>, operator only,
// CSRF-checked, model ids URL-encoded.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { PRICE_MIN_LEAD_MS } from '../../src/services/billing/price-book.ts'
import { admin, uniqueModel } from '../helpers/gateway.ts'
import { ack, pullFor } from '../helpers/node-ops.ts'
import { seedPrice } from '../helpers/prices.ts'
import { type Browser, createTenant, member, operator, uniqueEmail } from './console-browser.ts'

const PLACEMENT = { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', gpu_count: 1, use_spot: true }
const FLEET = { min_ready: 1, max_nodes: 2, placements: [PLACEMENT] }
const fleetPath = (model: string) => `/dashboard/api/fleets/${encodeURIComponent(model)}`
const pricePath = (model: string) => `/dashboard/api/prices/${encodeURIComponent(model)}`

type Fleet = {
  object: string
  model: string
  desired: { min_ready: number; max_nodes: number }
  actual: { launching: number; nodes: { cluster_name: string }[] }
  recent_actions: { actor: string; action: string }[]
  reconcile?: { actions: { action: string }[] } | null
}
type Price = { object: string; model?: string; input: string; output: string; effective_from: string }
type PriceBook = { object: 'list'; model: string; current: Price | null; data: Price[] }

let op: Browser
let tenantAdmin: Browser
const OPERATOR = 'user:ops@cic.test'

beforeAll(async () => {
  op = await operator()
  const tenantId = await createTenant(op)
  tenantAdmin = await member(op, tenantId, uniqueEmail('fleet-admin'), 'tenant_admin')
})

const auditRows = async (target: string, action: string) =>
  (await env.DB.prepare('SELECT actor, action FROM audit_log WHERE target = ? AND action = ? ORDER BY id').bind(target, action).all<{ actor: string }>())
    .results

describe('fleets', () => {
  it('the operator creates, reads, lists, changes and deletes a fleet; audited as user:<email>; the admin API sees the same', async () => {
    const model = `Org/${uniqueModel('fleet')}`
    const created = await op.fetch(fleetPath(model), { method: 'PUT', json: FLEET })
    expect(created.status).toBe(201)
    const body = (await created.json()) as Fleet
    expect(body).toMatchObject({ object: 'fleet', model, desired: { min_ready: 1, max_nodes: 2 }, actual: { launching: 1 } })
    expect(body.reconcile?.actions.map((a) => a.action)).toEqual(['launch'])
    expect(body.recent_actions.map((a) => [a.actor, a.action])).toContainEqual([OPERATOR, 'fleet.put'])
    const cluster = body.actual.nodes[0]?.cluster_name ?? ''
    await ack((await pullFor(cluster)).wire.lease_id)

    const one = await op.json<Fleet>(fleetPath(model))
    const viaAdmin = (await (await admin(`/admin/fleet/${encodeURIComponent(model)}`)).json()) as Fleet
    expect(one).toEqual(viaAdmin)
    const list = await op.json<{ object: string; data: Fleet[] }>('/dashboard/api/fleets')
    expect(list.data.find((f) => f.model === model)).toEqual(one)

    const changed = await op.fetch(fleetPath(model), { method: 'PUT', json: { ...FLEET, max_nodes: 3 } })
    expect(changed.status).toBe(200)
    expect(((await changed.json()) as Fleet).desired.max_nodes).toBe(3)
    expect(await op.json(fleetPath(model), { method: 'DELETE' })).toEqual({ object: 'fleet.deleted', model, deleted: true })
    expect((await op.fetch(fleetPath(model))).status).toBe(404)
    expect((await auditRows(`fleet:${model}`, 'fleet.put')).map((r) => r.actor)).toEqual([OPERATOR, OPERATOR])
    expect((await auditRows(`fleet:${model}`, 'fleet.delete')).map((r) => r.actor)).toEqual([OPERATOR])
  })

  it('refuses what the admin API refuses: a bad field, the launch policy, a bad model id', async () => {
    for (const [json, param] of [
      [{ ...FLEET, min_ready: 3, max_nodes: 2 }, 'max_nodes'],
      [{ ...FLEET, placements: [{ ...PLACEMENT, provider: 'aws', gpu: 'A100', gpu_count: 1 }] }, 'placements.0.gpu_count'],
      [{ ...FLEET, colour: 'blue' }, 'colour'],
    ] as const) {
      const res = await op.fetch(fleetPath('refused-fleet'), { method: 'PUT', json })
      expect(res.status, param).toBe(400)
      expect(await res.json()).toMatchObject({ error: { param } })
    }
    const badModel = await op.fetch('/dashboard/api/fleets/bad%20model', { method: 'PUT', json: FLEET })
    expect(badModel.status).toBe(400)
    expect(await badModel.json()).toMatchObject({ error: { param: 'model', code: 'invalid_model' } })
    expect((await op.fetch(fleetPath('refused-fleet'))).status).toBe(404) // nothing was written
  })
})

describe('prices', () => {
  it('the operator sets a price (decimal strings, exact), lists every model with its current version and history', async () => {
    const inForce = `Org/${uniqueModel('priced')}`
    await seedPrice(inForce, 600_000, 1_200_001, 0) // $0.60/M in, $1.200001/M out, in force since the epoch
    const before = Date.now()
    const res = await op.fetch(pricePath(inForce), { method: 'PUT', json: { input: '0.7', output: '1.234567' } })
    expect(res.status).toBe(200)
    const written = (await res.json()) as Price
    expect(written).toMatchObject({ object: 'model.price', model: inForce, input: '0.700000', output: '1.234567' })
    expect(Date.parse(written.effective_from)).toBeGreaterThanOrEqual(before + PRICE_MIN_LEAD_MS)

    const all = await op.json<{ object: string; data: PriceBook[] }>('/dashboard/api/prices')
    const book = all.data.find((b) => b.model === inForce)
    expect(book?.current).toMatchObject({ input: '0.600000', output: '1.200001' }) // the new version is not in force yet
    expect(book?.data.map((v) => [v.input, v.output])).toEqual([
      ['0.600000', '1.200001'],
      ['0.700000', '1.234567'],
    ])
    // Same answer as the admin API's, model by model.
    expect(book).toEqual(await (await admin(`/admin/models/${encodeURIComponent(inForce)}/price`)).json())
    expect((await auditRows(inForce, 'model.price.put')).map((r) => r.actor)).toEqual([OPERATOR])
  })

  it('refuses a bad amount or a start that is too soon, and writes nothing', async () => {
    const model = uniqueModel('refused-price')
    for (const [json, param] of [
      [{ input: '0.1234567' }, 'input'],
      [{ input: 0.5 }, 'input'],
      [{ input: '1', effective_from: Date.now() }, 'effective_from'],
    ] as const) {
      const res = await op.fetch(pricePath(model), { method: 'PUT', json })
      expect(res.status, JSON.stringify(json)).toBe(400)
      expect(await res.json()).toMatchObject({ error: { param } })
    }
    const all = await op.json<{ data: PriceBook[] }>('/dashboard/api/prices')
    expect(all.data.map((b) => b.model)).not.toContain(model)
  })
})

describe('authorization', () => {
  it('a tenant admin gets 403 on every route, and changes nothing', async () => {
    const model = `Org/${uniqueModel('not-theirs')}`
    for (const route of [
      { method: 'GET', path: '/dashboard/api/fleets' },
      { method: 'GET', path: fleetPath(model) },
      { method: 'PUT', path: fleetPath(model), json: FLEET },
      { method: 'DELETE', path: fleetPath(model) },
      { method: 'GET', path: '/dashboard/api/prices' },
      { method: 'PUT', path: pricePath(model), json: { input: '0.01' } },
    ]) {
      const res = await tenantAdmin.fetch(route.path, route)
      expect(res.status, `${route.method} ${route.path}`).toBe(403)
      expect(await res.json()).toMatchObject({ error: { type: 'permission_error' } })
    }
    expect((await op.fetch(fleetPath(model))).status).toBe(404)
    expect((await op.json<{ data: PriceBook[] }>('/dashboard/api/prices')).data.map((b) => b.model)).not.toContain(model)
  })

  it('an operator write without the CSRF token, or from another origin, is refused and changes nothing', async () => {
    const model = `Org/${uniqueModel('csrf')}`
    for (const headers of [{ 'x-csrf-token': 'wrong' }, { origin: 'https://evil.example' }] as Record<string, string>[]) {
      for (const [path, json] of [
        [fleetPath(model), FLEET],
        [pricePath(model), { input: '0.01' }],
      ] as const) {
        const res = await op.fetch(path, { method: 'PUT', json, headers })
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(403)
        expect(await res.json()).toMatchObject({ error: { code: 'csrf_failed' } })
      }
    }
    expect((await op.fetch(fleetPath(model))).status).toBe(404)
    expect((await op.json<{ data: PriceBook[] }>('/dashboard/api/prices')).data.map((b) => b.model)).not.toContain(model)
  })
})
