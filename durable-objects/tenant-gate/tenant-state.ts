// The tenant facts the admission object decides on, and the pure decision over them (no I/O, unit-tested).

export type TenantStatus = 'active' | 'suspended'

export type TenantState = {
  tenantId: string
  status: TenantStatus
  statusReason: string | null
  limits: Record<string, number>
  revokedKeyIds: ReadonlySet<string>
}

export type AdmitInput = { keyId: string }

export type Refusal =
  | { ok: false; reason: 'key_revoked' }
  | { ok: false; reason: 'tenant_suspended'; message: string }
  | { ok: false; reason: 'tenant_unknown' }

export type AdmitResult = { ok: true } | Refusal

export function decideAdmission(state: TenantState | null, input: AdmitInput): AdmitResult {
  if (!state) return { ok: false, reason: 'tenant_unknown' }
  if (state.revokedKeyIds.has(input.keyId)) return { ok: false, reason: 'key_revoked' }
  if (state.status === 'suspended') {
    const why = state.statusReason ? `: ${state.statusReason}` : ''
    return { ok: false, reason: 'tenant_suspended', message: `This account is suspended${why}.` }
  }
  return { ok: true }
}
