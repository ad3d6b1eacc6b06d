// What the Worker may import from the TenantGate (and nothing else under durable-objects/tenant-gate/): the
// object's name, the RPC's input and result types, the ledger types they carry, and the plan names. The Worker
// calls the object by RPC (env.TENANT_GATE.getByName(tenantGateName(id))); the class itself is wired in index.ts.
import type { BillCap, LedgerRefusal, RateSnapshot, Reservation } from './admission-ledger.ts'
import type { LimitOverrides } from './plans.ts'
import type { IdentityRefusal } from './tenant-state.ts'

export type { BillCap, BudgetUnit, LedgerRefusal, RateSnapshot, Reservation } from './admission-ledger.ts'
export { costCeilMicroUsd, type TokenPrice } from './money.ts'
export { BUDGET_THRESHOLD_ACTION } from './budget-alerts.ts'
export { isPlanName, PLAN_NAMES, type PlanName } from './plans.ts'

/** The one object of a tenant: every caller names it so. */
export const tenantGateName = (tenantId: string) => `tenant:${tenantId}`

/** A lease not settled by then stops holding a concurrency slot (its Worker is presumed dead). */
export const DEFAULT_LEASE_TTL_MS = 10 * 60_000
export type AdmitInput = {
  tenantId: string
  keyId: string
  /** The key's own limits (api_keys.limits); its rpm wins over the tenant's key_rpm. */
  keyLimits?: LimitOverrides
  /** Tokens to hold until settle; absent or null for a request that generates nothing (GET /v1/models). */
  reservation?: Reservation | null
  leaseTtlMs?: number
}
/**
 * `leaseId` is set when a reservation was held: pass it to settle exactly once when the request ends.
 * `reservedTokens`: what the lease really holds (prompt estimate plus completion allowance), which is less than
 * asked when admission shrank a guessed completion to fit the tpm or the budget; 0 without a reservation. The
 * gateway caps the completion it forwards to this, so the node cannot generate past what was reserved.
 * `billCap`: set when a budget (tokens or money) applies: the gateway settles and bills at most these tokens,
 * so what the budget held is an upper bound of what is charged.
 */
export type Admitted = { ok: true; leaseId: string | null; reservedTokens: number; billCap?: BillCap | null; rate: RateSnapshot }
export type AdmitResult = Admitted | IdentityRefusal | LedgerRefusal

/**
 * A lease to end with the tokens its request really used (see settle), and their cost in micro-dollars at the
 * prices it was admitted with (costCeilMicroUsd); without usedMicroUsd a money hold is charged whole.
 */
export type SettleInput = { leaseId: string; usedTokens: number; usedMicroUsd?: number }
