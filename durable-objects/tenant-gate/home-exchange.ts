// The home's answer to a location's exchange, pure (time is a parameter): take the report into the ledger, apply the
// settles it forwards, decide the request it could not, then refill its slice from what is free. TenantGate.exchange
// runs it in one synchronous turn; the slice simulation test (admission-location/slices-simulation.test.ts) drives it
// with simulated time and distance.
import { budgetPeriodOf, type AdmissionLedger, type Changes } from './admission-ledger.ts'
import type { AdmitInput, AdmitResult, ExchangeRequest, ExchangeResult, SettleInput } from './contract.ts'
import { hasBudget, type Limits } from './plans.ts'
import { FIRST_SHARE, type SliceBook } from './slice-book.ts'
import { costCeilMicroUsd } from './money.ts'
import { budgetMoneyCounter, budgetTokensCounter, keyCounter, limitOf, REQUESTS, TOKENS, type Counter, type Counts, type LocationState } from './slices.ts'

export type Home = {
  ledger: AdmissionLedger
  slices: SliceBook
  limits(): Limits
  /** Settles a lease of the ledger (idempotent). */
  settle(s: SettleInput): void
  /** Decides one admission at home, against the ledger and every slice held (AdmissionLedger.admit's `held`). */
  decide(input: AdmitInput): AdmitResult
  /**
   * Makes an applied exchange durable in the same synchronous turn (the location sees the answer only once it is
   * written): the instance's account, the windowed units it put into the ledger (lost with the object otherwise), and
   * the ledger's changes from budget entries it reported (durable entries and the months' budgets).
   */
  remember?(instance: string, recorded: Counts, changes: Changes, now: number): void
}

/**
 * Applies a location's report once (by seq): its entries join the ledger's windows. isNew is false for a retry or an
 * old one; `recorded` is the windowed units its entries added (what a restarted home must still count).
 */
export function takeReport(home: Home, req: ExchangeRequest, now: number): { isNew: boolean; recorded: Counts; changes: Changes } {
  const applied = home.slices.apply(req, now)
  const recorded: Counts = {}
  const changes: Changes = { entries: [], budgets: [] }
  for (const e of applied.entries) {
    const { budget } = e
    const entry = { id: e.id, keyId: e.keyId, at: now - Math.max(0, e.ageMs), tokens: e.tokens, isOpen: e.isOpen, ...(budget ? { budget } : {}) }
    const changed = home.ledger.recordReported(entry, now)
    // A budget's entry is durable: a restarted home restores it into its windows itself, so it is not carried too.
    if (!budget) addUnits(recorded, { [REQUESTS]: 1, [TOKENS]: e.tokens, [keyCounter(e.keyId)]: 1 })
    else if (changed) {
      changes.entries.push(...changed.entries)
      changes.budgets.push(...changed.budgets)
    }
  }
  return { isNew: applied.isNew, recorded, changes }
}

export function answerExchange(home: Home, state: LocationState, req: ExchangeRequest, now: number): ExchangeResult {
  const { isNew, recorded, changes } = takeReport(home, req, now)
  for (const s of req.settles) home.settle(s) // after the report: a settle may be of an entry it carries
  const period = budgetPeriodOf(now)
  const limit = (counter: Counter) => limitOf(counter, home.limits(), req.keyRpm, period)
  const free = (counter: Counter) => Math.max(0, limit(counter) - home.ledger.used(counter, now) - home.slices.held(counter, now))
  // The requests it had no room for first, then the refill: they never wait behind the location's own refill.
  // What they add to the ledger's windows is remembered too, unless the ledger writes them itself (budget entries).
  const counters = [REQUESTS, TOKENS, ...new Set(req.admits.map((a) => keyCounter(a.keyId)))]
  const before = counters.map((c) => home.ledger.used(c, now))
  const admitted = isNew ? req.admits.map((input) => home.decide(input)) : []
  if (!hasBudget(home.limits())) {
    for (const [i, c] of counters.entries()) addUnits(recorded, { [c]: Math.max(0, home.ledger.used(c, now) - (before[i] ?? 0)) })
  }
  const want = state.status !== 'active' ? {} : withBudgetDemand(req.want, req.admits, admitted, home.limits(), period)
  if (isNew) home.slices.grant(req.instance, want, free, limit, req.leaseTtlMs, now)
  if (isNew) home.remember?.(req.instance, recorded, changes, now)
  const account = home.slices.holding(req.instance)
  const budgetUse = home.slices.budgetUse(req.instance, now)
  if (!account || !budgetUse) return { ok: false, reason: 'tenant_unknown' }
  const freeNow: Counts = {}
  for (const counter of Object.keys(account.holding)) freeNow[counter] = free(counter)
  return {
    ok: true,
    seq: req.seq,
    state,
    holding: account.holding,
    reportedEntries: account.reportedEntries,
    useForMs: Math.max(0, account.useBy - now),
    poolHeldForMs: Math.max(0, account.poolHeldUntil - now),
    free: freeNow,
    admitted,
    budgetPeriod: budgetUse.period,
    budgetUseForMs: budgetUse.useForMs,
  }
}

/**
 * A location that has not seen a budget yet (its first requests, decided here) shows no budget demand: the holds of
 * the requests decided here for it stand in for it, times the refill target (6 s of demand over the 2 s seen, as
 * LocalSlice asks), so its next requests find room. A budget is a month's worth: no share of it is given without
 * demand, only what the location's share of the rate limit would hold.
 */
function withBudgetDemand(want: Counts, admits: readonly AdmitInput[], admitted: readonly AdmitResult[], limits: Limits, period: string): Counts {
  const seen: Counts = {}
  for (const [i, r] of admitted.entries()) {
    const res = admits[i]?.reservation
    if (!r.ok || !r.billCap || !res) continue
    const { promptTokens, completionTokens } = r.billCap
    if (limits.budgetTokens > 0) addUnits(seen, { [budgetTokensCounter(period)]: promptTokens + completionTokens })
    if (limits.budgetMicroUsd > 0) addUnits(seen, { [budgetMoneyCounter(period)]: costCeilMicroUsd(promptTokens, completionTokens, res.price) })
  }
  if (Object.keys(seen).length === 0) return want
  const decided = admitted.filter((r) => r.ok && r.billCap).length
  // A location that has shown no budget demand yet gets as much budget as the requests share a new location gets
  // (slice-book.ts FIRST_SHARE of the rpm) would hold at the holds seen: its rate room and its budget room then last
  // alike, instead of the budget running out first and growing by a few holds per round trip.
  const firstRequests = limits.rpm > 0 ? Math.ceil(limits.rpm * FIRST_SHARE) : 0
  const more = { ...want }
  for (const [counter, units] of Object.entries(seen)) {
    // ... and never more than that share of the month's budget (a small budget is not parked at the first location).
    const cap = Math.ceil(limitOf(counter, limits, {}, period) * FIRST_SHARE)
    const first = counter in want ? 0 : Math.min(cap, Math.ceil((units / decided) * firstRequests))
    more[counter] = Math.max(more[counter] ?? 0, BUDGET_DEMAND_FACTOR * units, first)
  }
  return more
}
const BUDGET_DEMAND_FACTOR = 3

/** Adds `more` into `into`, leaving out zeros. */
function addUnits(into: Counts, more: Counts): void {
  for (const [counter, units] of Object.entries(more)) if (units > 0) into[counter] = (into[counter] ?? 0) + units
}
