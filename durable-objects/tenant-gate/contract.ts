// What the Worker may import from the TenantGate (and nothing else under durable-objects/tenant-gate/): the
// object's name, the RPC's input and result types, the ledger types they carry, and the plan names. The Worker
// calls the object by RPC (env.TENANT_GATE.getByName(tenantGateName(id))); the class itself is wired in index.ts.
import type { BillCap, LedgerRefusal, RateSnapshot, Reservation } from './admission-ledger.ts'
import type { LimitOverrides } from './plans.ts'
import type { IdentityRefusal } from './tenant-state.ts'
import type { Counts, LocationState, ReportedEntry } from './slices.ts'

export type { BillCap, BudgetUnit, LedgerRefusal, RateSnapshot, Reservation } from './admission-ledger.ts'
export { costCeilMicroUsd, isTokenPrice, type TokenPrice } from './money.ts'
export { BUDGET_THRESHOLD_ACTION } from './budget-alerts.ts'
export { isPlanName, PLAN_NAMES, type PlanName } from './plans.ts'
// The slice protocol, for the location objects (durable-objects/admission-location) and the Worker's lease routing.
export { budgetPeriodOf, WINDOW_MS } from './admission-ledger.ts'
export { hasBudget, requestLimits, tenantLimits, type Limits } from './plans.ts'
export type { IdentityRefusal } from './tenant-state.ts'
export * from './slices.ts'
export { simulatedDistance, simulatedRttMs } from './simulated-distance.ts'

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

/** What a location tells the home (see README "Slices" for why each field keeps the sums exact). */
export type ExchangeRequest = {
  tenantId: string
  /** The location object's name, to reach it for a recall. */
  location: string
  /** Random per location object instance: an evicted location comes back as a new instance with nothing held. */
  instance: string
  /** Increases with every exchange of this instance: the home applies each once and ignores older ones. */
  seq: number
  /**
   * What this instance may use from now on, per counter, after releasing what it does not need: for windowed counters
   * the cumulative units granted (so units used + room), for pools the pool's size. Never more than the home's last
   * answer: the location stops using anything above it when it sends the exchange.
   */
  holding: Counts
  /** Units used per windowed counter by the entries reported so far in total (cumulative, with `entries` included). */
  used: Counts
  /** This instance's admissions not yet acknowledged, numbered from `firstIndex` (cumulative count of this instance). */
  firstIndex: number
  entries: ReportedEntry[]
  /** More units wanted per counter (beyond `holding`), from the demand it saw. */
  want: Counts
  /** Key rpm limits of the key counters in `holding` and `want`. */
  keyRpm: Record<string, number>
  /** The longest lease it gives, and how far ahead its latest running lease expires: its pool is held until then. */
  leaseTtlMs: number
  leaseHorizonMs: number
  /** Settles of leases already reported (their tokens are the home's to correct), applied after the entries. */
  settles: SettleInput[]
  /**
   * Requests the location had no room for: decided at home in order, after the report and before the refill, in the
   * same round trip. The location releases all its room when it sends any, so nothing it holds idle refuses them.
   */
  admits: AdmitInput[]
}

export type ExchangeResult =
  | {
      ok: true
      seq: number
      state: LocationState
      /** The location's new holding per counter (same meaning as ExchangeRequest.holding). */
      holding: Counts
      /** Entries the home holds from this instance (acknowledges the ones below). */
      reportedEntries: number
      /** The slice may be used for this long after the exchange was sent; pools are held this long for its leases. */
      useForMs: number
      poolHeldForMs: number
      /** Room beyond every holding, per counter, when the home answered (for rate-limit headers). */
      free: Counts
      /** The home's decisions on ExchangeRequest.admits, in order (empty for an exchange it had already applied). */
      admitted: AdmitResult[]
      /**
       * The month whose budget counters the slice holds, and how long after the exchange was sent they may be used:
       * `useForMs`, cut at the month's end (home clock), so a month's slice is never used in the next.
       */
      budgetPeriod: string
      budgetUseForMs: number
    }
  | { ok: false; reason: 'tenant_unknown' }
