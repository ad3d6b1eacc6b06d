// Request bodies at the edge (routes/read-body.ts): an empty body is `{}` (every field optional → accepted;
// required fields → the missing one is named), malformed JSON is still invalid_json, and an unknown key of a
// strict object is named in `param` (zod reports it with an empty path).
import { describe, expect, it } from 'vitest'
import { admin, seedTenant } from '../helpers/gateway.ts'

describe('request body', () => {
  it('accepts an empty POST body where every field is optional (curl -X POST .../keys)', async () => {
    const { tenantId } = await seedTenant()
    for (const init of [{}, { headers: { 'content-type': 'application/json' } }, { body: '  \n' }]) {
      const res = await admin(`/admin/tenants/${tenantId}/keys`, { method: 'POST', ...init })
      expect(res.status).toBe(201)
      expect(await res.json()).toMatchObject({ object: 'api_key', tenant_id: tenantId, name: null, key: expect.stringMatching(/^sk-/) })
    }
  })

  it('answers an empty body with the missing field, not invalid_json, where a field is required', async () => {
    const res = await admin('/admin/tenants', { method: 'POST' })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_request', param: 'name' } })
  })

  it('still answers invalid_json for a body that is not JSON', async () => {
    const { tenantId } = await seedTenant()
    const res = await admin(`/admin/tenants/${tenantId}/keys`, { method: 'POST', body: '{name:', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json', param: null } })
  })

  it('names an unknown key in param, at the top level and nested', async () => {
    const { tenantId } = await seedTenant()
    const top = await admin(`/admin/tenants/${tenantId}/keys`, { method: 'POST', json: { name: 'ci', colour: 'blue' } })
    expect(top.status).toBe(400)
    expect(await top.json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'colour', message: expect.stringContaining("'colour'") } })
    const nested = await admin(`/admin/tenants/${tenantId}/keys`, { method: 'POST', json: { limits: { rpm: 5, burst: 2 } } })
    expect(nested.status).toBe(400)
    expect(await nested.json()).toMatchObject({ error: { param: 'limits.burst' } })
  })
})
