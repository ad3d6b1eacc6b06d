// The audit trail: every admin change to tenants, keys and nodes is in GET /admin/audit with actor, action,
// target, before/after and the request id the client saw; the query filters and pages it.
import { describe, expect, inject, it } from 'vitest'
import { admin, call } from '../helpers/gateway.ts'
import { runner } from '../helpers/node-ops.ts'

type Entry = {
  id: number
  object: string
  at: number
  actor: string
  action: string
  target: string
  before: unknown
  after: unknown
  request_id: string | null
}
type Page = { object: 'list'; data: Entry[]; has_more: boolean }
const standins = inject('standins')

async function audit(query: string): Promise<Page> {
  const res = await admin(`/admin/audit?${query}`)
  expect(res.status).toBe(200)
  return (await res.json()) as Page
}
async function changed(path: string, init: RequestInit & { json?: unknown }) {
  const res = await admin(path, init)
  expect(res.status).toBeLessThan(300)
  return { body: (await res.json()) as { id: string }, requestId: res.headers.get('x-request-id') }
}

describe('GET /admin/audit', () => {
  it('records tenant and key changes with actor, before/after and the request id', async () => {
    const t = await changed('/admin/tenants', { method: 'POST', json: { name: `audit-${crypto.randomUUID()}` } })
    const suspend = await changed(`/admin/tenants/${t.body.id}`, { method: 'PATCH', json: { status: 'suspended', status_reason: 'unpaid' } })
    const k = await changed(`/admin/tenants/${t.body.id}/keys`, { method: 'POST', json: {} })
    const revoke = await changed(`/admin/keys/${k.body.id}`, { method: 'DELETE' })

    const tenantTrail = (await audit(`target=${t.body.id}`)).data
    expect(tenantTrail.map((e) => e.action)).toEqual(['tenant.update', 'tenant.create']) // newest first
    expect(tenantTrail[0]).toMatchObject({ actor: 'admin', request_id: suspend.requestId, before: { status: 'active' }, after: { status: 'suspended' } })
    expect(tenantTrail[1]).toMatchObject({ actor: 'admin', request_id: t.requestId, before: null })
    const keyTrail = (await audit(`target=${k.body.id}`)).data
    expect(keyTrail.map((e) => e.action)).toEqual(['key.revoke', 'key.create'])
    expect(keyTrail[0]?.request_id).toBe(revoke.requestId)
    expect(JSON.stringify(keyTrail)).not.toMatch(/sk-[A-Za-z0-9]{8}/) // never the key itself
  })

  it('records node register, breaker change, drain, resume and removal', async () => {
    const node = await changed('/admin/nodes', { method: 'POST', json: { endpoint: standins.healthy, models: ['cic-demo-llm'] } })
    await changed(`/admin/nodes/${node.body.id}`, { method: 'PATCH', json: { breaker: { failure_threshold: 7 } } })
    await changed(`/admin/nodes/${node.body.id}/drain`, { method: 'POST' })
    await changed(`/admin/nodes/${node.body.id}/resume`, { method: 'POST' })
    await changed(`/admin/nodes/${node.body.id}`, { method: 'DELETE' })
    const trail = (await audit(`target=${node.body.id}&actor=admin`)).data
    // A removal drains first (the node had just been serving): `node.remove_requested`, or `node.remove` if idle.
    expect(trail.map((e) => e.action).reverse()).toEqual(['node.register', 'node.update', 'node.drain', 'node.resume', expect.stringMatching(/^node\.remove/)])
    expect(trail.find((e) => e.action === 'node.update')).toMatchObject({ after: { breaker: { failureThreshold: 7 } } })
    for (const e of trail) expect(e.request_id).toMatch(/^req_/)
  })

  it("records the launch, the runner's reports and the node's self-registration", async () => {
    const launch = await admin('/admin/nodes/launch', {
      method: 'POST',
      json: { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', model: 'cic-demo-llm' },
    })
    expect(launch.status).toBe(202)
    const { cluster_name: cluster, node_id: nodeId } = (await launch.json()) as { cluster_name: string; node_id: string }
    const report = await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'launching' } })
    expect(report.status).toBe(200)
    const creds = (await (await runner(`/runner/nodes/${cluster}/credentials`)).json()) as { register_token: string }
    const reg = await call('/nodes/register', {
      method: 'POST',
      json: { cluster_name: cluster, endpoint: standins.healthy, models: ['cic-demo-llm'] },
      headers: { authorization: `Bearer ${creds.register_token}` },
    })
    expect(reg.status).toBe(200)
    const trail = (await audit(`target=${nodeId}`)).data.reverse()
    expect(trail.slice(0, 3).map((e) => [e.actor, e.action])).toEqual([
      ['admin', 'node.launch'],
      ['runner', 'node.runner_report'],
      ['node', 'node.self_register'],
    ])
    expect(trail[1]).toMatchObject({ before: { status: 'queued' }, after: { status: 'launching' }, request_id: report.headers.get('x-request-id') })
    expect(trail[2]).toMatchObject({ after: { status: 'warming', endpoint: standins.healthy }, request_id: reg.headers.get('x-request-id') })
    expect(JSON.stringify(trail)).not.toContain(creds.register_token)
  })

  it('filters by time and pages with a cursor', async () => {
    const from = Date.now()
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await changed('/admin/tenants', { method: 'POST', json: { name: `page-${crypto.randomUUID()}` } })).body.id)
    const first = await audit(`from=${from}&limit=2&actor=admin`)
    expect(first.has_more).toBe(true)
    expect(first.data.map((e) => e.target)).toEqual([ids[2], ids[1]])
    const second = await audit(`from=${from}&limit=2&actor=admin&cursor=${first.data[1]?.id}`)
    expect(second).toMatchObject({ has_more: false })
    expect(second.data.map((e) => e.target)).toEqual([ids[0]])
    expect((await audit(`to=${from}&target=${ids[0]}`)).data).toEqual([])
    expect((await audit('actor=nobody')).data).toEqual([])
  })

  it('rejects bad queries and callers without the admin token', async () => {
    for (const [q, param] of [
      ['from=abc', 'from'],
      ['limit=0', 'limit'],
      ['from=10&to=5', 'to'],
      ['bogus=1', null],
    ] as const) {
      const res = await admin(`/admin/audit?${q}`)
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param } })
    }
    expect((await call('/admin/audit')).status).toBe(401)
  })
})
