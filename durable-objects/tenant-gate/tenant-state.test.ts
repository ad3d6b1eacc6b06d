import { describe, expect, it } from 'vitest'
import { decideAdmission, type TenantState } from './tenant-state.ts'

const state = (over: Partial<TenantState> = {}): TenantState => ({
  tenantId: 't1',
  status: 'active',
  statusReason: null,
  plan: 'default',
  limits: {},
  revokedKeyIds: new Set(),
  ...over,
})

describe('decideAdmission', () => {
  it("admits an active tenant's live key", () => {
    expect(decideAdmission(state(), { keyId: 'k1' })).toEqual({ ok: true })
  })
  it('refuses a revoked key before looking at the tenant', () => {
    expect(decideAdmission(state({ status: 'suspended', revokedKeyIds: new Set(['k1']) }), { keyId: 'k1' })).toEqual({ ok: false, reason: 'key_revoked' })
  })
  it('refuses a suspended tenant and says why', () => {
    expect(decideAdmission(state({ status: 'suspended', statusReason: 'payment failed' }), { keyId: 'k1' })).toEqual({
      ok: false,
      reason: 'tenant_suspended',
      message: 'This account is suspended: payment failed.',
    })
  })
  it('refuses a tenant it knows nothing about', () => {
    expect(decideAdmission(null, { keyId: 'k1' })).toEqual({ ok: false, reason: 'tenant_unknown' })
  })
})
