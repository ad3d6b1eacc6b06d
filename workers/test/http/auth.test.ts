import { describe, expect, it } from 'vitest'
import { admin, api, call, seedTenant } from '../helpers/gateway.ts'

describe('admin authentication', () => {
  it.each([
    ['no header', {}],
    ['a wrong token', { authorization: 'Bearer wrong-token-wrong-token' }],
    ['a token prefix', { authorization: 'Bearer test-admin' }],
    ['another scheme', { authorization: 'Basic dGVzdA==' }],
  ])('returns 401 in OpenAI format with %s', async (_, headers) => {
    const res = await call('/admin/tenants', { headers })
    expect(res.status).toBe(401)
    expect(res.headers.get('x-request-id')).toMatch(/^req_/)
    expect(await res.json()).toEqual({ error: { message: 'Invalid admin token.', type: 'authentication_error', param: null, code: 'invalid_admin_token' } })
  })

  it('accepts the right token', async () => {
    expect((await admin('/admin/tenants')).status).toBe(200)
  })
})

describe('API key authentication', () => {
  it('returns 401 without a key', async () => {
    const res = await call('/v1/models')
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { type: 'authentication_error', code: 'missing_api_key' } })
  })

  it('returns 401 for an unknown key', async () => {
    const res = await api('sk-cic-doesnotexist', '/v1/models')
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key' } })
  })

  it('refuses a revoked key on the very next request, although the key lookup is cached', async () => {
    const { key, keyId } = await seedTenant()
    expect((await api(key, '/v1/models')).status).toBe(200) // warms the isolate's key cache
    expect((await admin(`/admin/keys/${keyId}`, { method: 'DELETE' })).status).toBe(200)
    const res = await api(key, '/v1/models')
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { message: 'This API key has been revoked.', code: 'invalid_api_key' } })
  })

  it('refuses a suspended tenant with 403 saying why, and admits it again once reactivated', async () => {
    const { tenantId, key } = await seedTenant()
    expect((await api(key, '/v1/models')).status).toBe(200)
    await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { status: 'suspended', status_reason: 'payment failed' } })
    const res = await api(key, '/v1/models')
    expect(res.status).toBe(403)
    expect(res.headers.get('x-should-retry')).toBe('false')
    expect(await res.json()).toMatchObject({
      error: { type: 'permission_error', code: 'account_suspended', message: 'This account is suspended: payment failed.' },
    })
    await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { status: 'active' } })
    expect((await api(key, '/v1/models')).status).toBe(200)
  })

  it('keeps working for other keys of the tenant after one is revoked', async () => {
    const { tenantId, key, keyId } = await seedTenant()
    const second = (await (await admin(`/admin/tenants/${tenantId}/keys`, { method: 'POST', json: { name: 'second' } })).json()) as { key: string }
    await admin(`/admin/keys/${keyId}`, { method: 'DELETE' })
    expect((await api(key, '/v1/models')).status).toBe(401)
    expect((await api(second.key, '/v1/models')).status).toBe(200)
  })
})
