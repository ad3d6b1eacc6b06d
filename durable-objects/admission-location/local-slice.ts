// One location's slice of a tenant's limits, pure and in memory (time is a parameter): it admits while its room lasts,
// keeps its running leases (its concurrency pool), and builds the exchange that reports its admissions to the home
// TenantGate and asks for more. admission-location.ts is its RPC shell. The rules that keep the home's sums exact
// (never use more than the last answer, release only by claiming less, one exchange at a time) are stated in
// durable-objects/tenant-gate/README.md "Slices", and checked here.
import {
  budgetMoneyCounter,
  budgetOf,
  budgetPeriodOf,
  budgetTokensCounter,
  CONCURRENCY,
  costCeilMicroUsd,
  DEFAULT_LEASE_TTL_MS,
  hasBudget,
  isPool,
  isTokenPrice,
  KEY_SPLIT_MIN_RPM,
  keyCounter,
  REQUESTS,
  requestLimits,
  tenantLimits,
  TOKENS,
  WINDOW_MS,
  type AdmitInput,
  type BillCap,
  type Counter,
  type Counts,
  type EntryBudget,
  type ExchangeRequest,
  type ExchangeResult,
  type IdentityRefusal,
  type Limits,
  type LocationState,
  type RateSnapshot,
  type ReportedEntry,
  type Reservation,
  type SettleInput,
} from '../tenant-gate/contract.ts'

/** Ask for more once the room left would last less than this at the rate seen (or the slice expires sooner). */
const REFILL_AHEAD_MS = 2_000
/** Ask for enough to last this long at the rate seen. */
const REFILL_TARGET_MS = 6_000
/** A slice unused this long is given back (its room is then free for other locations at once). */
export const IDLE_RELEASE_MS = 2_000
/**
 * Settles of reported leases (token refunds the home applies) ride with the next exchange, and make one of their own
 * only after waiting this long: until then the home counts the reservation, never less.
 */
const SETTLE_FLUSH_MS = 5_000
/**
 * The longest a lease given here lasts without a renewal, whatever the gateway asks (it asks DEFAULT_LEASE_TTL_MS,
 * 10 min, and renews every 50 s at most: workers/src/services/admission/admit-request.ts LEASE_RENEW_MAX_MS, so a running
 * request gets two renewals per lease). The home holds the pool of an instance it lost until the instance's use-by
 * plus this, not plus 10 min (README "Invariant (concurrency)").
 */
export const LOCATION_LEASE_MAX_MS = 120_000
/** The lease a request asks for, capped here. */
const leaseTtlOf = (ttlMs: number | undefined) => Math.min(ttlMs ?? DEFAULT_LEASE_TTL_MS, LOCATION_LEASE_MAX_MS)

type LocalEntry = ReportedEntry & { at: number; units: Counts; isSent: boolean }
type LocalLease = { entry: LocalEntry; expiresAt: number; isActive: boolean }

export type LocalDecision =
  | { kind: 'admitted'; leaseId: string | null; reservedTokens: number; billCap: BillCap | null; rate: RateSnapshot }
  | IdentityRefusalDecision
  /** No room here (or a case only the home decides): ask the home, with this request, in one round trip. */
  | { kind: 'ask_home'; reason: 'no_slice' | 'no_room' | 'home_only' }
type IdentityRefusalDecision = { kind: 'refused'; refusal: IdentityRefusal }

export class LocalSlice {
  private seq = 0
  private state: LocationState | null = null
  /** Derived from `state` once per change (setState), not per request. */
  private tenantLimits = tenantLimits('default', {})
  private revoked: ReadonlySet<string> = new Set()
  /** No active lease expires before this (expireLeases walks the leases only then). */
  private nextExpiry = Infinity
  private useBy = 0
  private poolHeldUntil = 0
  /** The month of the budget counters the home granted (its clock), and until when they may be used (this clock). */
  private budgetPeriod: string | null = null
  private budgetUseBy = 0
  private readonly holding = new Map<Counter, number>()
  private readonly used = new Map<Counter, number>() // windowed: cumulative, unreported entries at their current tokens
  private readonly reportedUsed = new Map<Counter, number>() // windowed: cumulative units of acknowledged entries
  private entries: LocalEntry[] = [] // not acknowledged yet; entries[0] has index firstIndex
  private firstIndex = 0
  private readonly leases = new Map<string, LocalLease>()
  private inUse = 0
  private demand = new Map<Counter, number>()
  private demandSince: number
  private peakInUse = 0
  private free: Counts = {}
  private keyRpm: Record<string, number> = {}
  private settles: SettleInput[] = []
  /** The longest lease asked for here: the home holds the pool that long past the slice's use-by. */
  private leaseTtlMs = 0
  private settlesSince = 0
  lastAdmissionAt = 0

  constructor(
    readonly location: string,
    readonly instance: string,
    now: number,
  ) {
    this.demandSince = now
  }

  /** Decides one admission alone if the slice allows it; else says why the home must decide it. */
  /** `isRetry`: the same request asked again after waiting (its demand is already counted). */
  decide(input: AdmitInput, now: number, newId: () => string, { isRetry = false } = {}): LocalDecision {
    this.expireLeases(now)
    if (!this.state) return { kind: 'ask_home', reason: 'no_slice' }
    const limits = input.keyLimits ? requestLimits(this.tenantLimits, input.keyLimits) : this.tenantLimits
    const res = input.reservation ?? null
    const ttl = leaseTtlOf(input.leaseTtlMs)
    if (res) this.leaseTtlMs = Math.max(this.leaseTtlMs, ttl)
    const need = res ? res.promptTokens + res.completionTokens : 0
    const charge = res && hasBudget(limits) ? budgetCharge(res, limits, now) : null
    const isHomeOnly =
      (res !== null && (!Number.isSafeInteger(need) || need < 0 || (limits.tpm > 0 && need > limits.tpm))) ||
      (limits.keyRpm > 0 && limits.keyRpm < KEY_SPLIT_MIN_RPM)
    // An invalid reservation goes home too: the home refuses it (invalid_reservation).
    if (isHomeOnly || charge === 'invalid') return { kind: 'ask_home', reason: 'home_only' }
    const units: Counts = {}
    if (limits.rpm > 0) units[REQUESTS] = 1
    if (limits.keyRpm > 0) {
      units[keyCounter(input.keyId)] = 1
      this.keyRpm[input.keyId] = limits.keyRpm
    }
    if (res && limits.tpm > 0) units[TOKENS] = need
    if (res && limits.concurrency > 0) units[CONCURRENCY] = 1
    // A budget holds the worst case, as at home (AdmissionLedger.admit): prompt bound plus completion, at its price.
    if (charge) {
      if (charge.budget.tokens > 0) units[budgetTokensCounter(charge.budget.period)] = charge.budget.tokens
      if (charge.budget.microUsd > 0) units[budgetMoneyCounter(charge.budget.period)] = charge.budget.microUsd
    }
    if (!isRetry) for (const [counter, n] of Object.entries(units)) this.demand.set(counter, (this.demand.get(counter) ?? 0) + n)
    // Past its use-by the slice and the state it came with are stale: the home decides (and refills).
    if (now >= this.useBy || (res !== null && now + ttl > this.poolHeldUntil)) return { kind: 'ask_home', reason: 'no_slice' }
    // A budget slice is of one month, usable until budgetUseBy (never past that month's end): else the home decides.
    if (charge && (charge.budget.period !== this.budgetPeriod || now >= this.budgetUseBy)) return { kind: 'ask_home', reason: 'no_slice' }
    const identity = identityRefusal(this.state, this.revoked, input.keyId)
    if (identity) return { kind: 'refused', refusal: identity }
    for (const [counter, n] of Object.entries(units)) if (this.room(counter) < n) return { kind: 'ask_home', reason: 'no_room' }

    const id = `${this.location}#${newId()}`
    const entry: LocalEntry = { id, keyId: input.keyId, at: now, ageMs: 0, tokens: need, isOpen: res !== null, units, isSent: false }
    if (charge) entry.budget = { ...charge.budget }
    for (const [counter, n] of Object.entries(units)) if (!isPool(counter)) this.used.set(counter, (this.used.get(counter) ?? 0) + n)
    this.entries.push(entry)
    if (res) {
      this.leases.set(id, { entry, expiresAt: now + ttl, isActive: units[CONCURRENCY] === 1 })
      this.nextExpiry = Math.min(this.nextExpiry, now + ttl)
      if (units[CONCURRENCY] === 1) this.inUse++
      this.peakInUse = Math.max(this.peakInUse, this.inUse)
    }
    this.lastAdmissionAt = now
    const billCap = charge ? charge.billCap : null
    return { kind: 'admitted', leaseId: res ? id : null, reservedTokens: res ? need : 0, billCap, rate: this.snapshot(limits, input.keyId) }
  }

  /**
   * Ends a lease given here: frees its slot, and corrects its tokens here while its entry is unsent, else queues the
   * correction for the home. False when unknown here (the caller asks the home) or already settled. Under a budget, an
   * unsent entry's hold becomes its actual charge here (tokens as used, as at home; money at most the hold, the hold
   * whole without `usedMicroUsd`): the difference is room again. A sent one's settle goes to the home.
   */
  settle(leaseId: string, usedTokens: number, now: number, usedMicroUsd?: number): boolean {
    this.expireLeases(now)
    const lease = this.leases.get(leaseId)
    if (!lease) return false
    this.leases.delete(leaseId)
    if (lease.isActive) this.inUse--
    const used = Number.isSafeInteger(usedTokens) && usedTokens > 0 ? usedTokens : 0
    const e = lease.entry
    if (!e.isSent && e.units[TOKENS] !== undefined) {
      this.used.set(TOKENS, (this.used.get(TOKENS) ?? 0) + used - e.tokens) // refund (or top-up) in place
      e.units[TOKENS] = used
    }
    if (!e.isSent && e.budget) {
      const b = e.budget
      const microUsd = usedMicroUsd !== undefined && Number.isSafeInteger(usedMicroUsd) && usedMicroUsd >= 0 ? Math.min(usedMicroUsd, b.microUsd) : b.microUsd
      const charged = { tokens: b.tokens > 0 ? used : 0, microUsd }
      for (const [counter, amount] of [
        [budgetTokensCounter(b.period), charged.tokens],
        [budgetMoneyCounter(b.period), charged.microUsd],
      ] as const) {
        const held = e.units[counter]
        if (held === undefined) continue
        this.used.set(counter, (this.used.get(counter) ?? 0) + amount - held)
        e.units[counter] = amount
      }
      e.budget = { period: b.period, ...charged }
    }
    if (!e.isSent) {
      e.tokens = used
      e.isOpen = false
    } else {
      if (this.settles.length === 0) this.settlesSince = now
      this.settles.push(usedMicroUsd === undefined ? { leaseId, usedTokens: used } : { leaseId, usedTokens: used, usedMicroUsd })
    }
    return true
  }

  /**
   * Extends a running lease up to `now + ttlMs` (at most LOCATION_LEASE_MAX_MS), never past the pool's hold at home.
   * False when unknown or expired.
   */
  renew(leaseId: string, ttlMs: number, now: number): boolean {
    this.expireLeases(now)
    const lease = this.leases.get(leaseId)
    if (!lease?.isActive) return false
    lease.expiresAt = Math.max(lease.expiresAt, Math.min(now + leaseTtlOf(ttlMs), this.poolHeldUntil))
    return true
  }

  hasLease(leaseId: string): boolean {
    return this.leases.has(leaseId)
  }

  /** Whether a renew to `now + ttlMs` needs the home to hold the pool longer first. */
  needsLongerHold(ttlMs: number, now: number): boolean {
    return now + leaseTtlOf(ttlMs) > this.poolHeldUntil
  }

  /** Whether to ask for more ahead of running out (room for less than REFILL_AHEAD_MS at the rate seen, or expiry). */
  wantsRefill(now: number): boolean {
    if (!this.state || now + REFILL_AHEAD_MS >= this.useBy) return this.state !== null && now - this.lastAdmissionAt < IDLE_RELEASE_MS
    const elapsed = Math.max(REFILL_AHEAD_MS, now - this.demandSince)
    for (const [counter, n] of this.demand) {
      // A pool is not spent by a rate: it needs refilling only when nearly all its slots are taken.
      const ahead = isPool(counter) ? Math.max(1, Math.ceil(this.peakInUse / 2)) : (n / elapsed) * REFILL_AHEAD_MS
      if (this.room(counter) < ahead) return true
    }
    return false
  }

  /** Whether the slice has gone unused long enough to give back. */
  isIdle(now: number): boolean {
    return this.hasRoom() && now - this.lastAdmissionAt >= IDLE_RELEASE_MS
  }

  /** Whether settles owed to the home have waited long enough to go on their own (or are owed at all, with `any`). */
  hasPendingSettles(now: number, { any = false } = {}): boolean {
    return this.settles.length > 0 && (any || now - this.settlesSince >= SETTLE_FLUSH_MS)
  }

  /** Whether admissions holding budget wait to be reported while the location is quiet (their units move to the home). */
  owesBudgetReport(now: number, { any = false } = {}): boolean {
    return this.entries.some((e) => e.budget && !e.isSent) && (any || now - this.lastAdmissionAt >= IDLE_RELEASE_MS)
  }

  /**
   * The next exchange. `release`: give back all room (idle, a recall, or requests the home decides). Marks its
   * entries sent: their settles go to the home from now on. Apply the answer with `take`.
   */
  exchange(tenantId: string, now: number, { release, admits = [], leaseHorizonMs = 0 }: ExchangeOptions): ExchangeRequest {
    this.expireLeases(now)
    this.seq++
    const isExpired = now >= this.useBy
    // A budget counter of another month than the slice's, or past its month's use-by, is expired on its own.
    const isOver = (counter: Counter) => {
      const budget = budgetOf(counter)
      return isExpired || (budget !== null && (budget.period !== this.budgetPeriod || now >= this.budgetUseBy))
    }
    const roomBefore = new Map([...this.holding.keys()].map((counter) => [counter, isOver(counter) ? 0 : Math.max(0, this.room(counter))]))
    const holding: Counts = {}
    const elapsed = Math.max(REFILL_AHEAD_MS, now - this.demandSince)
    const targetOf = (counter: Counter) =>
      isPool(counter) ? Math.max(4, 2 * this.peakInUse) : Math.ceil(((this.demand.get(counter) ?? 0) / elapsed) * REFILL_TARGET_MS)
    for (const counter of new Set([...this.holding.keys(), ...this.used.keys()])) {
      const used = isPool(counter) ? this.inUse : (this.used.get(counter) ?? 0)
      const held = Math.max(used, this.holding.get(counter) ?? 0)
      // Expired or releasing: keep nothing beyond what is used (a pool keeps its running leases). Otherwise keep at most
      // what the demand seen needs: room a location does not use goes back at every exchange, not only when idle.
      const kept = release || isOver(counter) ? used : Math.min(held, used + Math.max(1, targetOf(counter)))
      this.holding.set(counter, kept)
      holding[counter] = kept
    }
    const usedReported: Counts = Object.fromEntries(this.reportedUsed)
    for (const e of this.entries) {
      e.isSent = true
      for (const [counter, n] of Object.entries(e.units)) if (!isPool(counter)) usedReported[counter] = (usedReported[counter] ?? 0) + n
    }
    // The rate seen since the last exchange, over at least REFILL_AHEAD_MS: a few requests just after one must not
    // read as a flood (and hoard the limit).
    const want: Counts = {}
    if (!release || admits.length > 0) {
      // Counters it released without demand seen since (requests that came before it had a state) are asked back too.
      const asked = release ? new Set([...this.demand.keys(), ...roomBefore.keys()]) : this.demand.keys()
      for (const counter of asked) {
        const n = this.demand.get(counter) ?? 0
        const target = targetOf(counter)
        // A request the home decides releases all room (so none of it idles against the decision): ask it back.
        const back = release ? (roomBefore.get(counter) ?? 0) : 0
        want[counter] = Math.max(isPool(counter) ? 0 : n, target - this.room(counter), back)
      }
    }
    if (!release) {
      this.demand = new Map()
      this.demandSince = now
      this.peakInUse = this.inUse
    }
    let horizon = leaseHorizonMs
    for (const l of this.leases.values()) if (l.isActive) horizon = Math.max(horizon, l.expiresAt - now)
    return {
      tenantId,
      location: this.location,
      instance: this.instance,
      seq: this.seq,
      holding,
      used: usedReported,
      firstIndex: this.firstIndex,
      entries: this.entries.map((e) => ({
        id: e.id,
        keyId: e.keyId,
        ageMs: now - e.at,
        tokens: e.tokens,
        isOpen: e.isOpen,
        ...(e.budget ? { budget: { ...e.budget } } : {}),
      })),
      want,
      keyRpm: { ...this.keyRpm },
      leaseTtlMs: Math.max(this.leaseTtlMs, ...admits.map((a) => (a.reservation ? leaseTtlOf(a.leaseTtlMs) : 0))),
      leaseHorizonMs: horizon,
      settles: this.settles.splice(0),
      admits,
    }
  }

  /**
   * Applies the home's answer to exchange `sentSeq`, sent at `sentAt` (this clock). An answer to an older exchange
   * only acknowledges entries: a later one (a recall) may have claimed less, and the home counts only that.
   */
  take(result: Extract<ExchangeResult, { ok: true }>, sentAt: number, sent: ExchangeRequest): void {
    this.ack(result.reportedEntries, sent)
    if (result.seq !== this.seq) return // its state may also be older than a recall's
    this.setState(result.state)
    for (const [counter, units] of Object.entries(result.holding)) this.holding.set(counter, units)
    this.useBy = sentAt + result.useForMs
    this.poolHeldUntil = Math.max(this.poolHeldUntil, sentAt + result.poolHeldForMs)
    this.budgetPeriod = result.budgetPeriod
    this.budgetUseBy = sentAt + result.budgetUseForMs
    this.free = result.free
  }

  /** A failed exchange: its settles are sent again with the next one (settle is idempotent at home). */
  putBack(sent: ExchangeRequest): void {
    this.settles.push(...sent.settles)
  }

  /** The home's new state, from a recall: applied at once. */
  setState(state: LocationState): void {
    this.state = state
    this.tenantLimits = tenantLimits(state.plan, state.limits)
    this.revoked = new Set(state.revokedKeyIds)
  }

  inspect(now: number) {
    this.expireLeases(now)
    const room: Counts = {}
    for (const counter of this.holding.keys()) room[counter] = this.room(counter)
    return { instance: this.instance, seq: this.seq, useByMs: Math.max(0, this.useBy - now), room, inUse: this.inUse, unreported: this.entries.length }
  }

  private ack(reportedEntries: number, sent: ExchangeRequest): void {
    const n = Math.min(this.entries.length, reportedEntries - this.firstIndex, sent.firstIndex + sent.entries.length - this.firstIndex)
    if (n <= 0) return
    for (const e of this.entries.slice(0, n)) {
      for (const [counter, u] of Object.entries(e.units)) if (!isPool(counter)) this.reportedUsed.set(counter, (this.reportedUsed.get(counter) ?? 0) + u)
    }
    this.entries = this.entries.slice(n)
    this.firstIndex += n
  }

  private room(counter: Counter): number {
    const holding = this.holding.get(counter) ?? 0
    return holding - (isPool(counter) ? this.inUse : (this.used.get(counter) ?? 0))
  }

  private hasRoom(): boolean {
    for (const counter of this.holding.keys()) if (this.room(counter) > 0) return true
    return false
  }

  /** Leases past their expiry stop holding a slot (as at home); past the window too, they are forgotten. */
  private expireLeases(now: number): void {
    if (now < this.nextExpiry) return
    this.nextExpiry = Infinity
    for (const [id, l] of this.leases) {
      if (l.isActive && l.expiresAt <= now) {
        l.isActive = false
        this.inUse--
      }
      if (!l.isActive && l.entry.at <= now - WINDOW_MS) this.leases.delete(id)
      else this.nextExpiry = Math.min(this.nextExpiry, l.isActive ? l.expiresAt : l.entry.at + WINDOW_MS)
    }
  }

  /** Rate-limit headers here: the limit is global; remaining is the room here plus what was free elsewhere at the last exchange. */
  private snapshot(limits: ReturnType<typeof tenantLimits>, keyId: string): RateSnapshot {
    const meter = (limit: number, counter: Counter) => {
      const remaining = Math.max(0, Math.min(limit, this.room(counter) + (this.free[counter] ?? 0)))
      return { limit, remaining, resetMs: remaining === limit ? 0 : WINDOW_MS }
    }
    const tenant = limits.rpm > 0 ? meter(limits.rpm, REQUESTS) : null
    const key = limits.keyRpm > 0 ? meter(limits.keyRpm, keyCounter(keyId)) : null
    const requests = tenant && key ? (key.remaining < tenant.remaining ? key : tenant) : (tenant ?? key)
    return { requests, tokens: limits.tpm > 0 ? meter(limits.tpm, TOKENS) : null }
  }
}

export type ExchangeOptions = { release: boolean; admits?: AdmitInput[]; leaseHorizonMs?: number }

function identityRefusal(state: LocationState, revoked: ReadonlySet<string>, keyId: string): IdentityRefusal | null {
  if (revoked.has(keyId)) return { ok: false, reason: 'key_revoked' }
  if (state.status === 'suspended') {
    const why = state.statusReason ? `: ${state.statusReason}` : ''
    return { ok: false, reason: 'tenant_suspended', message: `This account is suspended${why}.` }
  }
  return null
}

/**
 * A budgeted request's charge at admission: the worst case the home's ledger would hold (prompt bound plus the
 * completion asked, each direction's cost rounded up), in the month of `now` here; 'invalid' for what the home refuses.
 * A completion the home would shrink to fit the budget left is not shrunk here: that request goes home (no room).
 */
function budgetCharge(res: Reservation, limits: Limits, now: number): { budget: EntryBudget; billCap: BillCap } | 'invalid' {
  const prompt = Math.max(res.promptTokens, res.promptBound ?? 0)
  const completion = res.completionTokens
  if (!Number.isSafeInteger(prompt + completion) || prompt < 0 || completion < 0 || !isTokenPrice(res.price)) return 'invalid'
  const tokens = limits.budgetTokens > 0 ? prompt + completion : 0
  const microUsd = limits.budgetMicroUsd > 0 ? costCeilMicroUsd(prompt, completion, res.price) : 0
  return { budget: { period: budgetPeriodOf(now), tokens, microUsd }, billCap: { promptTokens: prompt, completionTokens: completion } }
}
