// The home TenantGate's book of slices: what each location instance holds of each counter, what it has reported, and
// until when its holding counts. Pure (time is a parameter); the object (tenant-gate.ts) adds the outstanding units
// to every check of its own ledger and records reported entries there, and writes each account (`record`) and the
// windowed units each exchange put into its ledger in the exchange's turn, so a restarted home comes back with them
// (`restore`). README.md "Slices" proves that the ledger's entries plus the outstanding units (plus, after a restart,
// the restored units) bound the tenant's admissions in every window.
import { budgetPeriodOf, LATE_SETTLE_GRACE_MS, WINDOW_MS } from './admission-ledger.ts'
import type { ExchangeRequest } from './contract.ts'
import { budgetOf, CONCURRENCY, isBudget, isPool, monthEndOf, REQUESTS, SLICE_TTL_MS, TOKENS, type Counter, type Counts, type ReportedEntry } from './slices.ts'

/** A location that has not asked before gets this share of each limit's free room (it has no demand to show yet). */
export const FIRST_SHARE = 1 / 16

type Account = {
  location: string
  instance: string
  seq: number
  /** Windowed and budgets: cumulative units granted; pools: the pool's size. */
  holding: Map<Counter, number>
  /** Windowed and budgets: cumulative units reported (they are entries of the ledger, or in its budgets, now). */
  reported: Map<Counter, number>
  reportedEntries: number
  /** Home time until which the slice may be used; windowed units not reported count until useBy + WINDOW_MS. */
  useBy: number
  /** Home time until which the pools count (the latest expiry of a lease given under them). */
  poolHeldUntil: number
}

/** An account as written to storage (gate-storage.ts) and read back when the home starts. */
export type AccountRecord = {
  location: string
  instance: string
  seq: number
  reportedEntries: number
  useBy: number
  poolHeldUntil: number
  holding: Counts
  reported: Counts
}

/** Windowed units one exchange put into the ledger (reports, and requests decided at home), at home time `at`. */
export type RecordedUnits = { at: number; units: Counts }
/** Budget units a lost location instance held and never reported, charged for good (see lapse). */
export type Lapsed = { instance: string; counter: Counter; units: number }

export type Applied = {
  /** False when the exchange was already applied (a retry) or is older than one applied: nothing changed. */
  isNew: boolean
  /** Reported entries not seen before, to record in the ledger. */
  entries: ReportedEntry[]
}

export class SliceBook {
  private readonly accounts = new Map<string, Account>() // by instance
  /**
   * After a restart: windowed units the ledger had from exchanges before it (its in-memory entries are gone), each
   * counted until `at` + WINDOW_MS. `at` is the exchange's time, never before the admissions it covers happened.
   */
  private carried: RecordedUnits[] = []

  /** Units held by locations and not yet in the ledger, per counter: the ledger's checks add them. */
  held(counter: Counter, now: number, except?: string): number {
    this.expire(now)
    let sum = 0
    for (const a of this.accounts.values()) if (a.instance !== except) sum += outstanding(a, counter, now)
    if (!isPool(counter)) for (const r of this.carried) sum += r.units[counter] ?? 0
    return sum
  }

  /** The account as storage keeps it (null once forgotten). */
  record(instance: string): AccountRecord | null {
    const a = this.accounts.get(instance)
    if (!a) return null
    const { location, seq, reportedEntries, useBy, poolHeldUntil } = a
    return { location, instance, seq, reportedEntries, useBy, poolHeldUntil, holding: this.holdingOf(a), reported: Object.fromEntries(a.reported) }
  }

  /** A restarted home: the accounts written before, and the units its lost ledger had from exchanges. */
  restore(accounts: readonly AccountRecord[], recorded: readonly RecordedUnits[], now: number): void {
    for (const r of accounts) {
      this.accounts.set(r.instance, {
        location: r.location,
        instance: r.instance,
        seq: r.seq,
        holding: new Map(Object.entries(r.holding)),
        reported: new Map(Object.entries(r.reported)),
        reportedEntries: r.reportedEntries,
        useBy: r.useBy,
        poolHeldUntil: r.poolHeldUntil,
      })
    }
    this.carried = recorded.filter((r) => r.at + WINDOW_MS > now)
    this.expire(now)
  }

  /**
   * Takes in an exchange: its claimed holding replaces the account's (a location only ever claims less than it was
   * given), and the entries past those already reported are returned for the ledger. Applied once per seq.
   */
  apply(req: ExchangeRequest, now: number): Applied {
    this.expire(now)
    let a = this.accounts.get(req.instance)
    if (a && req.seq <= a.seq) return { isNew: false, entries: [] }
    if (!a) {
      a = {
        location: req.location,
        instance: req.instance,
        seq: 0,
        holding: new Map(),
        reported: new Map(),
        reportedEntries: req.firstIndex, // a new instance starts at 0; entries before firstIndex are never resent
        useBy: now,
        poolHeldUntil: now,
      }
      this.accounts.set(req.instance, a)
    }
    a.seq = req.seq
    const skip = Math.max(0, a.reportedEntries - req.firstIndex)
    const entries = req.entries.slice(skip)
    a.reportedEntries = Math.max(a.reportedEntries, req.firstIndex + req.entries.length)
    for (const [counter, units] of Object.entries(req.holding)) {
      // Windowed and budgets: never below what was already reported (those units are in the ledger, counted once).
      const floor = isPool(counter) ? 0 : (a.reported.get(counter) ?? 0)
      a.holding.set(counter, Math.max(floor, Math.min(units, a.holding.get(counter) ?? units)))
    }
    for (const [counter, units] of Object.entries(req.used)) {
      if (!isPool(counter)) a.reported.set(counter, Math.max(a.reported.get(counter) ?? 0, units))
    }
    for (const counter of a.holding.keys()) if (!(counter in req.holding) && isPool(counter)) a.holding.set(counter, 0)
    a.poolHeldUntil = Math.max(a.poolHeldUntil, now + req.leaseHorizonMs)
    return { isNew: true, entries }
  }

  /**
   * Grants one account more: for each counter it wants, at most the room left under `limit` (`free`), and for a
   * location that showed no demand yet a small share. Extends the slice's use-by, and its pools for new leases.
   */
  grant(instance: string, want: Counts, free: (counter: Counter) => number, limit: (counter: Counter) => number, leaseTtlMs: number, now: number): Counts {
    const a = this.accounts.get(instance)
    if (!a) return {}
    let sharers = 1
    for (const other of this.accounts.values()) if (other !== a && other.useBy > now) sharers++
    // A location's first exchange shows no demand yet: it gets a small share of the tenant-wide limits to start with,
    // and so does a counter it holds nothing of yet (a key seen for the first time there).
    const first: Counts = a.seq <= 1 ? { [REQUESTS]: 0, [TOKENS]: 0, [CONCURRENCY]: 0 } : {}
    for (const [counter, wanted] of Object.entries({ ...first, ...want })) {
      const lim = limit(counter)
      if (lim <= 0) continue
      // A budget is a month's worth: a location gets what its demand asks (its first request's hold included), no share.
      const isNew = !isBudget(counter) && (a.seq <= 1 || (a.holding.get(counter) ?? 0) === 0)
      const asked = Math.max(wanted, isNew ? Math.ceil(lim * FIRST_SHARE) : 0)
      if (asked <= 0) continue
      // With other locations active, one takes at most an equal share of what is free: a burst at one location must
      // not park the limit where the next requests will not come (its idle room would refuse them elsewhere).
      const give = Math.max(0, Math.min(asked, Math.ceil(free(counter) / sharers)))
      a.holding.set(counter, (a.holding.get(counter) ?? 0) + give)
    }
    a.useBy = now + SLICE_TTL_MS
    a.poolHeldUntil = Math.max(a.poolHeldUntil, a.useBy + leaseTtlMs)
    return this.holdingOf(a)
  }

  holding(instance: string): { holding: Counts; reportedEntries: number; useBy: number; poolHeldUntil: number } | null {
    const a = this.accounts.get(instance)
    return a ? { holding: this.holdingOf(a), reportedEntries: a.reportedEntries, useBy: a.useBy, poolHeldUntil: a.poolHeldUntil } : null
  }

  /**
   * Budget units of lost instances: an account whose slice and every lease given under it ended more than
   * LATE_SETTLE_GRACE_MS ago (its location has not exchanged since: a live one reports and releases within seconds)
   * still holds units it never reported (room it may have used, holds of leases whose settles the home never saw).
   * They are charged for good, as a home lease never settled is (conservative): moved from the account (reported =
   * holding) to the ledger's committed by the caller, so the sum the invariant bounds does not change.
   */
  lapse(now: number): Lapsed[] {
    const lapsed: Lapsed[] = []
    for (const a of this.accounts.values()) {
      if (Math.max(a.useBy, a.poolHeldUntil) + LATE_SETTLE_GRACE_MS > now) continue
      for (const [counter, holding] of a.holding) {
        if (!isBudget(counter)) continue
        const units = holding - (a.reported.get(counter) ?? 0)
        if (units <= 0) continue
        a.reported.set(counter, holding)
        lapsed.push({ instance: a.instance, counter, units })
      }
    }
    return lapsed
  }

  /** Whether an account still holds budget units not reported (storage must keep it until they lapse). */
  holdsBudget(instance: string): boolean {
    const a = this.accounts.get(instance)
    if (!a) return false
    for (const [counter, holding] of a.holding) if (isBudget(counter) && holding > (a.reported.get(counter) ?? 0)) return true
    return false
  }

  /** The home's answer's budget period and how long its budget slice may be used (never past the month's end). */
  budgetUse(instance: string, now: number): { period: string; useForMs: number } | null {
    const a = this.accounts.get(instance)
    if (!a) return null
    return { period: budgetPeriodOf(now), useForMs: Math.max(0, Math.min(a.useBy, monthEndOf(now)) - now) }
  }

  /** The location objects that may still admit under a slice (to tell them of a new state), one per name. */
  usableLocations(now: number): string[] {
    this.expire(now)
    return [...new Set([...this.accounts.values()].filter((a) => a.useBy > now).map((a) => a.location))]
  }

  /** The home time by which every slice still usable now has expired (how long a recall may wait at most). */
  lastUseBy(now: number): number {
    let last = now
    for (const a of this.accounts.values()) last = Math.max(last, a.useBy)
    return last
  }

  /** For the admin view: what each location holds beyond what it reported. */
  inspect(now: number) {
    this.expire(now)
    return [...this.accounts.values()].map((a) => {
      const held: Counts = {}
      for (const counter of a.holding.keys()) held[counter] = outstanding(a, counter, now)
      return { location: a.location, held, useByMs: Math.max(0, a.useBy - now), poolHeldForMs: Math.max(0, a.poolHeldUntil - now) }
    })
  }

  private holdingOf(a: Account): Counts {
    return Object.fromEntries(a.holding)
  }

  /** Forgets accounts that hold nothing any more: past use-by plus the window, past their pools' leases, no budget units. */
  private expire(now: number): void {
    if (this.carried.length > 0) this.carried = this.carried.filter((r) => r.at + WINDOW_MS > now)
    for (const [instance, a] of this.accounts) {
      if (a.useBy + WINDOW_MS <= now && a.poolHeldUntil <= now && !this.holdsBudget(instance)) this.accounts.delete(instance)
    }
  }
}

/** Units of one counter an account holds that are not in the ledger, as of `now`. */
function outstanding(a: Account, counter: Counter, now: number): number {
  const holding = a.holding.get(counter) ?? 0
  if (isPool(counter)) return a.poolHeldUntil > now ? holding : 0
  // A budget's units count until reported or lapsed (charged): a month's unit used stays used for the month.
  if (budgetOf(counter)) return Math.max(0, holding - (a.reported.get(counter) ?? 0))
  return a.useBy + WINDOW_MS > now ? Math.max(0, holding - (a.reported.get(counter) ?? 0)) : 0
}
