// The tenant facts the admission object decides on first (is this key and this tenant allowed at all), and
// the pure decision over them (no I/O, unit-tested). Rate limits come after, in admission-ledger.ts.
import type { LimitOverrides } from './plans.ts'

export type TenantStatus = 'active' | 'suspended'

export type TenantState = {
  tenantId: string
  status: TenantStatus
  statusReason: string | null
  plan: string
  /** The tenant's overrides of its plan's limits. */
  limits: LimitOverrides
  revokedKeyIds: ReadonlySet<string>
}

export type IdentityRefusal =
  | { ok: false; reason: 'key_revoked' }
  | { ok: false; reason: 'tenant_suspended'; message: string }
  | { ok: false; reason: 'tenant_unknown' }

export function decideAdmission(state: TenantState | null, input: { keyId: string }): { ok: true } | IdentityRefusal {
  if (!state) return { ok: false, reason: 'tenant_unknown' }
  if (state.revokedKeyIds.has(input.keyId)) return { ok: false, reason: 'key_revoked' }
  if (state.status === 'suspended') {
    const why = state.statusReason ? `: ${state.statusReason}` : ''
    return { ok: false, reason: 'tenant_suspended', message: `This account is suspended${why}.` }
  }
  return { ok: true }
}
