// The admission arithmetic of one tenant, pure and in memory (the object persists what it returns): exact
// sliding-window logs for requests per minute (per key and per tenant), a reservation log for tokens per
// minute, leases with an expiry for concurrency, and budgets per calendar month: in tokens and in money
// (micro-dollars at the model's prices, money.ts), two counters of the same shape. Time is a parameter.
//
// Why a sliding log and not fixed windows or GCRA: a fixed window admits 2N across a boundary, and GCRA with a
// burst of N also admits close to 2N in some 60 s span (a full burst, then the steady refill). The log admits
// a request only if fewer than N were admitted in the 60 s before it, for every 60 s span, and it lets a
// settled request give its unused tokens back in place. It costs one entry per request of the last minute.
import { Fifo } from './fifo.ts'
import { completionAffordable, costCeilMicroUsd, isTokenPrice, type TokenPrice } from './money.ts'
import type { Limits } from './plans.ts'
import { budgetMoneyCounter, budgetOf, budgetTokensCounter, CONCURRENCY, keyCounter, REQUESTS, TOKENS, type Counter, type EntryBudget } from './slices.ts'

export const WINDOW_MS = 60_000
/** An expired lease that was never settled waits this long for a late settle before its hold is charged for good. */
export const LATE_SETTLE_GRACE_MS = 60 * 60_000
/** Retry hint when only a running request can free capacity (a concurrency slot, budget held in flight). */
export const BUSY_RETRY_MS = 1_000

/**
 * Tokens to hold for a request. `isCompletionGuess`: the client set no max_tokens, the gateway guessed.
 * `promptBound`: a prompt size the request provably cannot pass (estimate-reservation.ts), held instead of the
 * estimate `promptTokens` against a budget, so a budget's hold is a true worst case. `price`: the model's prices
 * at the request's start; a money budget holds the worst-case cost at them (absent: the model costs nothing).
 */
export type Reservation = {
  promptTokens: number
  completionTokens: number
  isCompletionGuess: boolean
  promptBound?: number
  price?: TokenPrice | null
}

export type LedgerEntry = {
  id: string
  keyId: string
  at: number
  /** Charged to the tokens window: the reservation until settled, then the real usage. */
  tokens: number
  /** Admitted with a lease and not settled yet. */
  isOpen: boolean
  /** From then on the lease no longer holds a concurrency slot. */
  expiresAt: number
  budgetPeriod: string | null
  /** Tokens held against the period's budget until settled. */
  budgetHold: number
  /** Micro-dollars held against the period's money budget until settled (the worst-case cost). */
  costHold: number
}

/** One month: tokens and micro-dollars, each committed (settled) and reserved (held by running requests). */
export type Budget = { committed: number; reserved: number; committedMicroUsd: number; reservedMicroUsd: number }
/** What a budget refusal counts in: tokens, or micro-dollars (budget_usd). */
export type BudgetUnit = 'tokens' | 'micro_usd'
/**
 * For a request admitted under a budget: the most it may be billed (the prompt bound, the completion granted).
 * The gateway clamps the usage it settles and bills to it, so a budget's hold is an upper bound by construction.
 */
export type BillCap = { promptTokens: number; completionTokens: number }
export type Meter = { limit: number; remaining: number; resetMs: number }
export type RateSnapshot = { requests: Meter | null; tokens: Meter | null }
export type RateScope = 'key_requests' | 'requests' | 'tokens' | 'concurrency' | 'budget_in_flight'

export type LedgerRefusal =
  | {
      ok: false
      reason: 'rate_limited'
      scope: RateScope
      limit: number
      used: number
      requested: number
      retryAfterMs: number
      unit?: BudgetUnit
      rate: RateSnapshot
    }
  | { ok: false; reason: 'request_too_large'; limit: number; requested: number; rate: RateSnapshot }
  | { ok: false; reason: 'budget_exhausted'; period: string; budget: number; used: number; requested: number; unit: BudgetUnit; rate: RateSnapshot }
  /** A reservation that is not finite non-negative integers: refused before it can touch the window or a budget. */
  | { ok: false; reason: 'invalid_reservation'; rate: RateSnapshot }

/** What changed, for the object to persist: entries to upsert and budget periods to rewrite. */
export type Changes = { entries: LedgerEntry[]; budgets: string[] }
/**
 * `grantedTokens`: prompt estimate plus the completion granted (what the gateway caps max_tokens to);
 * `billCap`: set when a budget applies (see BillCap).
 */
export type LedgerAdmit = { ok: true; entry: LedgerEntry; grantedTokens: number; billCap: BillCap | null; rate: RateSnapshot; changes: Changes }
export type AdmitRequest = { id: string; keyId: string; reservation: Reservation | null; leaseTtlMs: number }

/** Units of a counter held outside the ledger (by location slices), see admit. */
export type Held = (counter: Counter) => number
const NOTHING_HELD: Held = () => 0

type Blocked = { scope: RateScope; limit: number; used: number; requested: number; retryAfterMs: number; unit?: BudgetUnit }

/**
 * Whether an entry must survive eviction: only one that holds budget, because a budget is money. Every other
 * entry (rate windows, concurrency leases) lives in memory only, so most admissions write nothing and answer
 * without waiting for a storage commit; an object that restarts forgets them (its windows start empty, and
 * the gateway renews running leases often enough that an object with a stream in flight is never idle).
 */
/** Token arithmetic stays in safe integers: NaN or Infinity would poison the window sum for good. */
const isTokenCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

export const isDurable = (e: LedgerEntry): boolean => e.budgetPeriod !== null

/** Budgets run per calendar month, UTC ('2026-11'). */
export const budgetPeriodOf = (now: number) => new Date(now).toISOString().slice(0, 7)

export class AdmissionLedger {
  private readonly recent = new Fifo<LedgerEntry>() // every request admitted in the last WINDOW_MS, oldest first
  private readonly byKey = new Map<string, Fifo<number>>() // the same, per key, as admission times
  private windowTokens = 0
  private readonly leases = new Map<string, LedgerEntry>() // open entries, for settle
  private readonly active = new Map<string, LedgerEntry>() // open entries whose lease has not expired
  private nextExpiry = Infinity
  private readonly budgets = new Map<string, Budget>()

  /** Rebuilds the ledger from persisted entries (any order) and budgets, after an eviction. */
  restore(entries: LedgerEntry[], budgets: ReadonlyMap<string, Budget>, now: number): void {
    for (const [period, b] of budgets) this.budgets.set(period, { ...b })
    for (const e of [...entries].sort((a, b) => a.at - b.at)) {
      if (e.at > now - WINDOW_MS) this.record(e)
      if (!e.isOpen) continue
      this.leases.set(e.id, e)
      if (e.expiresAt > now) this.hold(e)
    }
  }

  /**
   * `held`: units of a counter that location objects hold beyond this ledger (slice-book.ts); every check counts
   * them as used, so the ledger's entries plus every slice stay within each limit.
   */
  admit(req: AdmitRequest, limits: Limits, now: number, held: Held = NOTHING_HELD): LedgerAdmit | LedgerRefusal {
    this.advance(now)
    const rate = () => this.snapshot(limits, req.keyId, now)
    const res = req.reservation
    if (res && (!isTokenCount(res.promptTokens + res.completionTokens) || !isTokenCount(res.promptBound ?? 0) || !isTokenPrice(res.price)))
      return { ok: false, reason: 'invalid_reservation', rate: rate() }
    let need = res ? res.promptTokens + res.completionTokens : 0
    const canShrinkTo = (room: number) => res?.isCompletionGuess && res.promptTokens < room
    if (res && limits.tpm > 0 && need > limits.tpm) {
      if (!canShrinkTo(limits.tpm)) return { ok: false, reason: 'request_too_large', limit: limits.tpm, requested: need, rate: rate() }
      need = limits.tpm // our guess of the completion, not the client's: shrink it to what the limit allows
    }
    const blocked: Blocked[] = []
    let period: string | null = null
    let hold = 0
    let costHold = 0
    let completion = res ? need - res.promptTokens : 0
    let billCap: BillCap | null = null
    if (res && (limits.budgetTokens > 0 || limits.budgetMicroUsd > 0)) {
      // A budget holds the worst case: the provable prompt bound, not the estimate; only our guess shrinks.
      period = budgetPeriodOf(now)
      const b = this.budget(period)
      const prompt = Math.max(res.promptTokens, res.promptBound ?? 0)
      const isGuess = res.isCompletionGuess
      if (limits.budgetTokens > 0) {
        const left = limits.budgetTokens - b.committed
        const fits = (room: number) => Math.min(completion, room - prompt)
        if (left <= 0 || (prompt + completion > left && !(isGuess && fits(left) >= 1))) {
          return {
            ok: false,
            reason: 'budget_exhausted',
            period,
            unit: 'tokens',
            budget: limits.budgetTokens,
            used: b.committed,
            requested: prompt + completion,
            rate: rate(),
          }
        }
        // Held in flight: the home's running requests and what location slices hold of this month (slice-book.ts).
        const free = left - b.reserved - held(budgetTokensCounter(period))
        if (isGuess && fits(free) >= 1) completion = fits(free)
        if (prompt + completion > free)
          blocked.push({
            scope: 'budget_in_flight',
            limit: limits.budgetTokens,
            used: limits.budgetTokens - free,
            requested: prompt + completion,
            retryAfterMs: BUSY_RETRY_MS,
          })
      }
      if (limits.budgetMicroUsd > 0) {
        const left = limits.budgetMicroUsd - b.committedMicroUsd
        const cost = costCeilMicroUsd(prompt, completion, res.price)
        const fits = (room: number) => Math.min(completion, completionAffordable(room, prompt, res.price))
        if (left <= 0 || (cost > left && !(isGuess && fits(left) >= 1))) {
          return {
            ok: false,
            reason: 'budget_exhausted',
            period,
            unit: 'micro_usd',
            budget: limits.budgetMicroUsd,
            used: b.committedMicroUsd,
            requested: cost,
            rate: rate(),
          }
        }
        const free = left - b.reservedMicroUsd - held(budgetMoneyCounter(period))
        if (cost > free && isGuess && fits(free) >= 1) completion = fits(free)
        const costHeld = costCeilMicroUsd(prompt, completion, res.price)
        if (costHeld > free)
          blocked.push({
            scope: 'budget_in_flight',
            unit: 'micro_usd',
            limit: limits.budgetMicroUsd,
            used: limits.budgetMicroUsd - free,
            requested: costHeld,
            retryAfterMs: BUSY_RETRY_MS,
          })
      }
      // The holds follow the completion finally granted (the money budget may have shrunk it past the tokens').
      hold = limits.budgetTokens > 0 ? prompt + completion : 0
      costHold = limits.budgetMicroUsd > 0 ? costCeilMicroUsd(prompt, completion, res.price) : 0
      billCap = { promptTokens: prompt, completionTokens: completion }
    }
    const keyLog = this.byKey.get(req.keyId)
    const keyUsed = (keyLog?.size ?? 0) + held(keyCounter(req.keyId))
    if (limits.keyRpm > 0 && keyUsed >= limits.keyRpm) {
      blocked.push({
        scope: 'key_requests',
        limit: limits.keyRpm,
        used: keyUsed,
        requested: 1,
        retryAfterMs: this.leavesAt(keyLog?.at(Math.max(0, keyLog.size - limits.keyRpm)), now),
      })
    }
    const requestsUsed = this.recent.size + held(REQUESTS)
    if (limits.rpm > 0 && requestsUsed >= limits.rpm) {
      blocked.push({
        scope: 'requests',
        limit: limits.rpm,
        used: requestsUsed,
        requested: 1,
        retryAfterMs: this.leavesAt(this.recent.at(Math.max(0, this.recent.size - limits.rpm))?.at, now),
      })
    }
    const tokensUsed = this.windowTokens + held(TOKENS)
    if (res && limits.tpm > 0 && tokensUsed + need > limits.tpm) {
      blocked.push({
        scope: 'tokens',
        limit: limits.tpm,
        used: tokensUsed,
        requested: need,
        retryAfterMs: this.tokensFreeIn(tokensUsed + need - limits.tpm, now),
      })
    }
    const inFlight = this.active.size + held(CONCURRENCY)
    if (res && limits.concurrency > 0 && inFlight >= limits.concurrency) {
      blocked.push({ scope: 'concurrency', limit: limits.concurrency, used: inFlight, requested: 1, retryAfterMs: BUSY_RETRY_MS })
    }
    const worst = blocked.reduce<Blocked | null>((w, b) => (w && w.retryAfterMs >= b.retryAfterMs ? w : b), null)
    if (worst) return { ok: false, reason: 'rate_limited', ...worst, retryAfterMs: Math.max(1, worst.retryAfterMs), rate: rate() }

    const entry: LedgerEntry = {
      id: req.id,
      keyId: req.keyId,
      at: now,
      tokens: need,
      isOpen: res !== null,
      expiresAt: res ? now + req.leaseTtlMs : now,
      budgetPeriod: period,
      budgetHold: hold,
      costHold,
    }
    this.record(entry)
    if (entry.isOpen) {
      this.leases.set(entry.id, entry)
      this.hold(entry)
    }
    if (period) {
      const b = this.budget(period)
      b.reserved += hold
      b.reservedMicroUsd += costHold
    }
    const grantedTokens = res ? res.promptTokens + completion : 0
    return { ok: true, entry, grantedTokens, billCap, rate: rate(), changes: { entries: [entry], budgets: period ? [period] : [] } }
  }

  /**
   * Replaces a lease's reservation by its real usage, at once. Null when unknown or already settled (idempotent).
   * Usage that is not a finite non-negative integer settles as 0 (the object's caller also sanitises it).
   * `usedMicroUsd`: the real cost (the gateway prices the usage at the prices it reserved with); never more
   * than the cost held (the gateway clamps the usage to the lease's BillCap), and absent (an older caller):
   * the hold is charged whole (conservative: never undercounted).
   */
  settle(id: string, usedTokens: number, now: number, usedMicroUsd?: number): Changes | null {
    if (!isTokenCount(usedTokens)) usedTokens = 0
    this.advance(now)
    const e = this.leases.get(id)
    if (!e) return null
    this.leases.delete(id)
    this.active.delete(id)
    if (e.at > now - WINDOW_MS) this.windowTokens += usedTokens - e.tokens // still in the window: refund or top up in place
    e.tokens = usedTokens
    e.isOpen = false
    const budgets: string[] = []
    if (e.budgetPeriod) {
      const b = this.budget(e.budgetPeriod)
      b.reserved -= e.budgetHold
      b.committed += usedTokens
      b.reservedMicroUsd -= e.costHold
      b.committedMicroUsd += usedMicroUsd !== undefined && isTokenCount(usedMicroUsd) ? Math.min(usedMicroUsd, e.costHold) : e.costHold
      budgets.push(e.budgetPeriod)
    }
    e.budgetHold = 0
    e.costHold = 0
    return { entries: [e], budgets }
  }

  /**
   * Extends a running request's lease to `now + ttlMs`, so a stream longer than the TTL keeps its slot. Null
   * when the lease is unknown, settled, or already expired: its slot may have been given to another request,
   * so it is not taken back (the request finishes; its settle still corrects tokens and budget).
   */
  renew(id: string, ttlMs: number, now: number): Changes | null {
    this.advance(now)
    const e = this.active.get(id)
    if (!e) return null
    e.expiresAt = Math.max(e.expiresAt, now + ttlMs) // nextExpiry may now be early: expireSlots recomputes it
    return { entries: [e], budgets: [] }
  }

  /**
   * The alarm's sweep: releases the slots of leases due by `due`, and charges for good the hold of leases that
   * expired more than LATE_SETTLE_GRACE_MS ago without a settle (conservative: the request may have run).
   */
  sweep(due: number, now: number): Changes {
    this.advance(now)
    this.expireSlots(due)
    const changes: Changes = { entries: [], budgets: [] }
    for (const e of this.leases.values()) {
      if (this.active.has(e.id) || e.expiresAt + LATE_SETTLE_GRACE_MS > now) continue
      this.leases.delete(e.id)
      e.isOpen = false
      if (e.budgetPeriod) {
        const b = this.budget(e.budgetPeriod)
        b.reserved -= e.budgetHold
        b.committed += e.budgetHold
        b.reservedMicroUsd -= e.costHold
        b.committedMicroUsd += e.costHold
        changes.budgets.push(e.budgetPeriod)
      }
      e.budgetHold = 0
      e.costHold = 0
      changes.entries.push(e)
    }
    return changes
  }

  /**
   * When a durable lease next needs the alarm: a slot to release or a stale hold to charge. Infinity if none.
   * Leases in memory only need no alarm: their slots are released as time passes, on the next call.
   */
  nextLeaseEvent(): number {
    let next = Infinity
    for (const e of this.leases.values()) {
      if (isDurable(e)) next = Math.min(next, this.active.has(e.id) ? e.expiresAt : e.expiresAt + LATE_SETTLE_GRACE_MS)
    }
    return next
  }

  /** Units of a sliceable counter this ledger holds now (its entries in the window, its running leases). */
  used(counter: Counter, now: number): number {
    this.advance(now)
    const budget = budgetOf(counter)
    if (budget) {
      const b = this.budget(budget.period)
      return budget.unit === 'tokens' ? b.committed + b.reserved : b.committedMicroUsd + b.reservedMicroUsd
    }
    if (counter === REQUESTS) return this.recent.size
    if (counter === TOKENS) return this.windowTokens
    if (counter === CONCURRENCY) return this.active.size
    return this.byKey.get(counter.slice(4))?.size ?? 0
  }

  /**
   * An admission a location made under its slice, reported at `at` (home time, never before it really happened):
   * it enters the windows like one admitted here, and its lease is kept for a late settle to correct its tokens.
   * Its concurrency slot stays in the location's pool, so it holds none here.
   */
  /**
   * Under a budget slice (`budget`), the entry also takes its charge over from the slice: an open one holds it in the
   * month's reserved (its settle commits the actual charge, a lease never settled is charged whole after
   * `expiresAt` + LATE_SETTLE_GRACE_MS, as for the home's own), a settled one commits it. Returns what to persist
   * (a budget's entry is durable), null when already recorded.
   */
  recordReported(
    e: Omit<LedgerEntry, 'expiresAt' | 'budgetPeriod' | 'budgetHold' | 'costHold'> & { budget?: EntryBudget; expiresAt?: number },
    now: number,
  ): Changes | null {
    this.advance(now)
    if (this.leases.has(e.id)) return null
    const { budget, ...rest } = e
    const entry: LedgerEntry = {
      ...rest,
      expiresAt: e.expiresAt ?? e.at,
      budgetPeriod: budget ? budget.period : null,
      budgetHold: budget && e.isOpen ? budget.tokens : 0,
      costHold: budget && e.isOpen ? budget.microUsd : 0,
    }
    if (entry.at > now - WINDOW_MS) this.record(entry)
    if (entry.isOpen && (budget || entry.at > now - WINDOW_MS)) this.leases.set(entry.id, entry)
    if (!budget) return { entries: [entry], budgets: [] }
    const b = this.budget(budget.period)
    if (e.isOpen) {
      b.reserved += budget.tokens
      b.reservedMicroUsd += budget.microUsd
    } else {
      b.committed += budget.tokens
      b.committedMicroUsd += budget.microUsd
    }
    return { entries: [entry], budgets: [budget.period] }
  }

  /** A lost location's budget slice charged for good (slice-book.ts lapse): committed, conservatively. */
  commitLapsed(period: string, unit: 'tokens' | 'micro_usd', amount: number): Changes {
    const b = this.budget(period)
    if (unit === 'tokens') b.committed += amount
    else b.committedMicroUsd += amount
    return { entries: [], budgets: [period] }
  }

  budget(period: string): Budget {
    let b = this.budgets.get(period)
    if (!b) this.budgets.set(period, (b = { committed: 0, reserved: 0, committedMicroUsd: 0, reservedMicroUsd: 0 }))
    return b
  }

  inspect(now: number) {
    this.advance(now)
    return { requestsInWindow: this.recent.size, tokensInWindow: this.windowTokens, inFlight: this.active.size, unsettled: this.leases.size }
  }

  /** Whether a lease not settled yet lives in memory only (it would be lost with the object). */
  hasLeasesInMemory(now: number): boolean {
    this.advance(now)
    for (const e of this.leases.values()) if (!isDurable(e)) return true
    return false
  }

  snapshot(limits: Limits, keyId: string, now: number): RateSnapshot {
    const meter = (limit: number, used: number, newest: number | undefined): Meter => ({
      limit,
      remaining: Math.max(0, limit - used),
      resetMs: newest === undefined ? 0 : Math.max(0, newest + WINDOW_MS - now),
    })
    const keyLog = this.byKey.get(keyId)
    const tenant = limits.rpm > 0 ? meter(limits.rpm, this.recent.size, this.recent.last()?.at) : null
    const key = limits.keyRpm > 0 ? meter(limits.keyRpm, keyLog?.size ?? 0, keyLog?.last()) : null
    const requests = tenant && key ? (key.remaining < tenant.remaining ? key : tenant) : (tenant ?? key)
    const tokens = limits.tpm > 0 ? meter(limits.tpm, this.windowTokens, this.recent.last()?.at) : null
    return { requests, tokens }
  }

  private record(e: LedgerEntry): void {
    this.recent.push(e)
    this.windowTokens += e.tokens
    let log = this.byKey.get(e.keyId)
    if (!log) this.byKey.set(e.keyId, (log = new Fifo<number>()))
    log.push(e.at)
  }

  private hold(e: LedgerEntry): void {
    this.active.set(e.id, e)
    this.nextExpiry = Math.min(this.nextExpiry, e.expiresAt)
  }

  /** Drops what left the window and releases the slots of expired leases. */
  private advance(now: number): void {
    for (let e = this.recent.first(); e && e.at <= now - WINDOW_MS; e = this.recent.first()) {
      this.recent.shift()
      this.windowTokens -= e.tokens
      const log = this.byKey.get(e.keyId)
      log?.shift()
      if (log && log.size === 0) this.byKey.delete(e.keyId)
      if (e.isOpen && !this.active.has(e.id)) this.forgetExpired(e, now)
    }
    this.expireSlots(now)
  }

  private expireSlots(due: number): void {
    if (due < this.nextExpiry) return
    this.nextExpiry = Infinity
    for (const e of this.active.values()) {
      if (e.expiresAt <= due) {
        this.active.delete(e.id)
        this.forgetExpired(e, due)
      } else this.nextExpiry = Math.min(this.nextExpiry, e.expiresAt)
    }
  }

  /**
   * An expired lease without budget can be forgotten once it has also left the window: a late settle could
   * change nothing any more (no slot, no window tokens, no budget). Durable ones wait for the alarm's sweep.
   */
  private forgetExpired(e: LedgerEntry, now: number): void {
    if (!isDurable(e) && e.at <= now - WINDOW_MS) this.leases.delete(e.id)
  }

  private leavesAt(at: number | undefined, now: number): number {
    return at === undefined ? BUSY_RETRY_MS : at + WINDOW_MS - now
  }

  /** How long until `excess` tokens have left the window, oldest first (settles may free them sooner). */
  private tokensFreeIn(excess: number, now: number): number {
    for (const e of this.recent) {
      excess -= e.tokens
      if (excess <= 0) return e.at + WINDOW_MS - now
    }
    return WINDOW_MS
  }
}
