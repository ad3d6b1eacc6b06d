import { env } from 'cloudflare:workers'
import { evictDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'

const gateFor = (tenantId: string) => env.TENANT_GATE.getByName(`tenant:${tenantId}`)

describe('TenantGate', () => {
  it('keeps revocations and suspension across eviction (they are in SQLite, not memory)', async () => {
    const gate = gateFor('t-evict')
    await gate.configure({ tenantId: 't-evict', status: 'suspended', statusReason: 'payment failed', limits: {} })
    await gate.revokeKey('k-revoked')
    await evictDurableObject(gate)
    const fresh = gateFor('t-evict')
    expect(await fresh.admit({ tenantId: 't-evict', keyId: 'k-revoked' })).toEqual({ ok: false, reason: 'key_revoked' })
    expect(await fresh.admit({ tenantId: 't-evict', keyId: 'k-live' })).toMatchObject({ ok: false, reason: 'tenant_suspended' })
  })

  it('bootstraps from D1 when its storage is empty', async () => {
    await env.DB.batch([
      env.DB.prepare("INSERT INTO tenants (id, name, status, status_reason, limits) VALUES ('t-d1', 'x', 'suspended', 'manual', '{}')"),
      env.DB.prepare("INSERT INTO api_keys (id, tenant_id, key_hash, prefix, revoked_at) VALUES ('k-old', 't-d1', 'h1', 'sk-cic-', 1)"),
    ])
    const gate = gateFor('t-d1')
    expect(await gate.admit({ tenantId: 't-d1', keyId: 'k-old' })).toEqual({ ok: false, reason: 'key_revoked' })
    expect(await gate.admit({ tenantId: 't-d1', keyId: 'k-new' })).toMatchObject({ ok: false, reason: 'tenant_suspended', message: 'This account is suspended: manual.' })
  })

  it('refuses a tenant that exists nowhere', async () => {
    expect(await gateFor('t-ghost').admit({ tenantId: 't-ghost', keyId: 'k' })).toEqual({ ok: false, reason: 'tenant_unknown' })
  })
})
