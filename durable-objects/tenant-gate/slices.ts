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
 * stays used for WINDOW_MS; `concurrency` is a pool, a unit is used while its lease runs. A money budget is one more
 * pool counter (held per request, committed at settle).
 */
export type Counter = string
export type Counts = Record<Counter, number>
export const REQUESTS = 'requests'
export const TOKENS = 'tokens'
export const CONCURRENCY = 'concurrency'
export const keyCounter = (keyId: string): Counter => `key:${keyId}`
export const isPool = (counter: Counter): boolean => counter === CONCURRENCY

/** The limit of one counter (0 = unlimited: not counted). Key counters take the key's rpm from `keyRpm`. */
export function limitOf(counter: Counter, limits: Limits, keyRpm: Readonly<Record<string, number>>): number {
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
