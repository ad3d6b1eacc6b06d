// The slice protocol between a tenant's home TenantGate and its location objects (durable-objects/admission-location):
// the counters that can be sliced, the exchange a location sends and the answer it gets. Pure types and helpers,
// shared by both objects (the Worker sees them through contract.ts). The proof that slices never let the tenant
// exceed a limit is in README.md ("Slices"); the home's book is slice-book.ts, the location's local-slice.ts.
import type { LimitOverrides, Limits } from './plans.ts'
import type { TenantStatus } from './tenant-state.ts'

/**
 * How long a slice may be used after the location asked for it (its clock, from when it sent the exchange; the home
 * counts from when it received it, which is later). Also the bound on how long an unreachable location keeps admitting
 * under a state the home has since changed (revocation, suspension, limits).
 */
export const SLICE_TTL_MS = 10_000
/** A key whose rpm is below this is not split across locations: all its requests are decided at home. */
export const KEY_SPLIT_MIN_RPM = 60

/**
 * A sliced counter: `requests` (tenant rpm), `tokens` (tpm), `key:<id>` (a key's rpm) are windowed, every unit used
 * stays used for WINDOW_MS; `concurrency` is a pool, a unit is used while its lease runs. Budgets are one counter per
 * month and unit, `budget_tokens:<YYYY-MM>` and `budget_micro_usd:<YYYY-MM>`: a unit used (held by a running request,
 * or charged at its settle) stays used for the month, so a slice granted in one month is never usable in the next
 * (README "Budgets").
 */
export type Counter = string
export type Counts = Record<Counter, number>
export const REQUESTS = 'requests'
export const TOKENS = 'tokens'
export const CONCURRENCY = 'concurrency'
export const keyCounter = (keyId: string): Counter => `key:${keyId}`
export const isPool = (counter: Counter): boolean => counter === CONCURRENCY
/** The month's token and money budget counters. */
export const budgetTokensCounter = (period: string): Counter => `budget_tokens:${period}`
export const budgetMoneyCounter = (period: string): Counter => `budget_micro_usd:${period}`
/** The month and unit of a budget counter, null for any other counter. */
export function budgetOf(counter: Counter): { period: string; unit: 'tokens' | 'micro_usd' } | null {
  if (counter.startsWith('budget_tokens:')) return { period: counter.slice('budget_tokens:'.length), unit: 'tokens' }
  if (counter.startsWith('budget_micro_usd:')) return { period: counter.slice('budget_micro_usd:'.length), unit: 'micro_usd' }
  return null
}
export const isBudget = (counter: Counter): boolean => budgetOf(counter) !== null

/**
 * The limit of one counter (0 = unlimited: not counted, or not grantable). Key counters take the key's rpm from
 * `keyRpm`; a budget counter has its budget only in the month `period` (the home's current month): an earlier month's
 * counter is never granted again.
 */
export function limitOf(counter: Counter, limits: Limits, keyRpm: Readonly<Record<string, number>>, period?: string): number {
  const budget = budgetOf(counter)
  if (budget) return budget.period !== period ? 0 : budget.unit === 'tokens' ? limits.budgetTokens : limits.budgetMicroUsd
  if (counter === REQUESTS) return limits.rpm
  if (counter === TOKENS) return limits.tpm
  if (counter === CONCURRENCY) return limits.concurrency
  if (counter.startsWith('key:')) return keyRpm[counter.slice(4)] ?? 0
  return 0
}

/** An admission made at a location, reported to the home at the next exchange (times relative to the report). */
export type ReportedEntry = {
  id: string
  keyId: string
  /** How long before the exchange was sent it was admitted (the home records it at its receipt time minus this). */
  ageMs: number
  tokens: number
  isOpen: boolean
  /**
   * Under a budget slice: the month and what the entry charges it, the hold while open, the actual charge once settled
   * at the location (the home moves it from the slice into its ledger's budget: reserved, or committed).
   */
  budget?: EntryBudget
}
export type EntryBudget = { period: string; tokens: number; microUsd: number }

/** The first instant of the month after `now`'s (UTC): a budget slice is usable until then at most. */
export function monthEndOf(now: number): number {
  const d = new Date(now)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
}

/** What a location needs to decide identity and limits alone. */
export type LocationState = {
  status: TenantStatus
  statusReason: string | null
  plan: string
  limits: LimitOverrides
  revokedKeyIds: string[]
}

/** A recall: the home's new state for the location; it answers with a full report and releases all its room. */
export type RecallInput = { state: LocationState }
