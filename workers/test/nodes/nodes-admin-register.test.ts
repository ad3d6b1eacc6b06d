// POST /admin/nodes edge cases: a name already taken is a 409 naming `name` (not a 500 from the unique index),
// also when two registrations race; an endpoint given as an OpenAI base URL (`…/v1`) is stored without `/v1`.
// Also the admin usage query's empty `?from=&to=` (same schemas file, workers/src/schemas/admin.ts).
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { admin, call, seedTenant } from '../helpers/gateway.ts'

const body = (name: string, endpoint = 'http://10.9.0.1:8000') => ({ name, endpoint, models: ['admin-register-model'] })

describe('POST /admin/nodes', () => {
  it('answers 409 in the OpenAI error format, param name, when the name is taken', async () => {
    expect((await admin('/admin/nodes', { method: 'POST', json: body('dup-node-1') })).status).toBe(201)
    const res = await admin('/admin/nodes', { method: 'POST', json: body('dup-node-1', 'http://10.9.0.2:8000') })
    expect(res.status).toBe(409)
    expect(res.headers.get('x-request-id')).toBeTruthy()
    expect(await res.json()).toEqual({
      error: { message: expect.stringContaining("'dup-node-1'"), type: 'invalid_request_error', param: 'name', code: 'node_name_taken' },
    })
    const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM nodes WHERE name = 'dup-node-1'").first<{ n: number }>()) ?? { n: 0 }
    expect(n).toBe(1)
  })

  it('answers one 201 and one 409 when two registrations of one name race', async () => {
    const results = await Promise.all([0, 1, 2].map(() => admin('/admin/nodes', { method: 'POST', json: body('dup-node-2') })))
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409])
    for (const r of results.filter((x) => x.status === 409)) expect(await r.json()).toMatchObject({ error: { param: 'name', code: 'node_name_taken' } })
  })

  it.each([
    ['http://10.9.0.3:8000/v1', 'http://10.9.0.3:8000'],
    ['http://10.9.0.3:8000/v1/', 'http://10.9.0.3:8000'],
    ['https://gpu.example.com/openai/v1', 'https://gpu.example.com/openai'],
    ['http://10.9.0.3:8000/', 'http://10.9.0.3:8000'],
  ])('stores the endpoint %s as %s (no OpenAI /v1 suffix)', async (endpoint, stored) => {
    const name = `v1-node-${crypto.randomUUID().slice(0, 8)}`
    const res = await admin('/admin/nodes', { method: 'POST', json: body(name, endpoint) })
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ endpoint: stored })
  })

  it('still needs the admin token', async () => {
    expect((await call('/admin/nodes', { method: 'POST', json: body('dup-node-3') })).status).toBe(401)
  })
})

describe('GET /admin/tenants/:id/usage', () => {
  it('accepts empty ?from=&to= as absent (a form leaves them empty)', async () => {
    const { tenantId } = await seedTenant()
    const res = await admin(`/admin/tenants/${tenantId}/usage?from=&to=`)
    expect(res.status).toBe(200)
  })
})
