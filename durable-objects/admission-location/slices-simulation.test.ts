// The slice protocol under simulated time and distance: the home's real ledger, book and exchange (home-exchange.ts)
// and four locations' real LocalSlice, driven by a discrete-event loop that stands in for the two objects' RPC shells
// (same decisions as admission-location.ts: admit here, else wait for the exchange in flight, then ask the home with
// every waiting request in the next one). Messages take a random one-way delay; locations are evicted at random. The invariants are checked from
// the admitted timestamps: every rolling 60 s window within rpm and tpm, in-flight leases within concurrency.
import { describe, expect, it } from 'vitest'
import { AdmissionLedger, budgetPeriodOf, isDurable, WINDOW_MS, type Budget, type Changes, type LedgerEntry } from '../tenant-gate/admission-ledger.ts'
import type { AdmitInput, AdmitResult, ExchangeRequest, ExchangeResult } from '../tenant-gate/contract.ts'
import { answerExchange, type Home } from '../tenant-gate/home-exchange.ts'
import { costCeilMicroUsd, type TokenPrice } from '../tenant-gate/money.ts'
import { requestLimits, tenantLimits, type LimitOverrides } from '../tenant-gate/plans.ts'
import { SliceBook, type AccountRecord, type RecordedUnits } from '../tenant-gate/slice-book.ts'
import { budgetMoneyCounter, budgetTokensCounter, monthEndOf, type LocationState } from '../tenant-gate/slices.ts'
import { seededRandom } from '../../scripts/load/schedule.ts'
import { IDLE_RELEASE_MS, LocalSlice, type ExchangeOptions } from './local-slice.ts'

/** [from s, to s, requests per second]. */
type Phase = [number, number, number]
type Admission = { at: number; id: string; tokens: number; endsAt: number; usedTokens: number; usedMicroUsd: number; where: string }
type Scenario = {
  seed: number
  limits: LimitOverrides
  /** One-way delay range, ms (a round trip is twice that). */
  oneWayMs: [number, number]
  /** Per location: request arrivals per second in each phase ([from s, to s, rate]). */
  load: Record<string, Phase[]>
  evictions?: Array<[string, number]>
  durationS: number
  leaseTtlMs?: number
  /** Simulated time of the start (epoch ms): the budget's month comes from it. */
  startAt?: number
  /** The models' price when a money budget is set (the reservation carries it). */
  price?: TokenPrice
  /** Share of settles delivered twice (a redelivered settle: charged once). */
  redeliver?: number
  /** Times (ms from the start) at which the home loses its memory and restarts from its storage (emulated). */
  homeRestarts?: number[]
}

function simulate(sc: Scenario) {
  const random = seededRandom(sc.seed) // a failing run can be replayed
  const delay = () => sc.oneWayMs[0] + random() * (sc.oneWayMs[1] - sc.oneWayMs[0])
  const start = sc.startAt ?? 0
  let now = start
  const queue: Array<{ at: number; seq: number; run: () => void }> = []
  let seqNo = 0
  const at = (time: number, run: () => void) => {
    queue.push({ at: time, seq: seqNo++, run })
  }
  let ids = 0
  const newId = () => `id-${ids++}`

  const state: LocationState = { status: 'active', statusReason: null, plan: 'enterprise', limits: sc.limits, revokedKeyIds: [] }
  const limits = tenantLimits('enterprise', sc.limits)
  let ledger = new AdmissionLedger()
  let slices = new SliceBook()
  // What TenantGate writes in the decision's synchronous turn (gate-storage.ts), restored at a restart: durable ledger
  // entries (budget holds), the months' budgets, the slice accounts and the windowed units exchanges recorded.
  const stored = {
    entries: new Map<string, LedgerEntry>(),
    budgets: new Map<string, Budget>(),
    accounts: new Map<string, AccountRecord>(),
    recorded: [] as RecordedUnits[],
  }
  const persist = (c: Changes | null) => {
    if (!c) return
    for (const e of c.entries) if (isDurable(e)) stored.entries.set(e.id, { ...e })
    for (const period of c.budgets) stored.budgets.set(period, { ...ledger.budget(period) })
  }
  const admissions: Admission[] = []
  const refusals: Array<{ at: number; scope: string }> = []
  let homeCalls = 0
  let waitedOnHome = 0
  const leaseTtlMs = sc.leaseTtlMs ?? 600_000

  const home: Home = {
    ledger,
    slices,
    limits: () => limits,
    settle: (s) => {
      persist(ledger.settle(s.leaseId, s.usedTokens, now, s.usedMicroUsd))
    },
    decide: (input) => {
      const r = ledger.admit(
        { id: newId(), keyId: input.keyId, reservation: input.reservation ?? null, leaseTtlMs },
        requestLimits(limits, input.keyLimits ?? {}),
        now,
        (c) => slices.held(c, now),
      )
      if (!r.ok) return r
      persist(r.changes)
      return { ok: true, leaseId: r.entry.isOpen ? r.entry.id : null, reservedTokens: r.grantedTokens, billCap: r.billCap, rate: r.rate }
    },
    remember: (instance, recorded, changes, at) => {
      persist(changes)
      const account = slices.record(instance)
      if (account) stored.accounts.set(instance, account)
      if (Object.keys(recorded).length > 0) stored.recorded.push({ at, units: recorded })
    },
  }
  /** The home object restarts: memory gone, storage kept (TenantGate's constructor). */
  function restartHome() {
    ledger = new AdmissionLedger()
    slices = new SliceBook()
    ledger.restore(
      [...stored.entries.values()].map((e) => ({ ...e })),
      stored.budgets,
      now,
    )
    slices.restore([...stored.accounts.values()], stored.recorded, now)
    home.ledger = ledger
    home.slices = slices
  }
  /** The budget invariant at home, every event: committed + home holds + every slice's outstanding units <= budget. */
  let worstBudget = { tokens: 0, microUsd: 0 }
  const checkBudget = () => {
    const period = budgetPeriodOf(now)
    const tokens = ledger.used(budgetTokensCounter(period), now) + slices.held(budgetTokensCounter(period), now)
    const microUsd = ledger.used(budgetMoneyCounter(period), now) + slices.held(budgetMoneyCounter(period), now)
    worstBudget = { tokens: Math.max(worstBudget.tokens, tokens), microUsd: Math.max(worstBudget.microUsd, microUsd) }
  }

  type Ask = { input: AdmitInput; reserved: number }
  type Loc = { name: string; slice: LocalSlice; inFlight: boolean; asks: Ask[]; tickArmed: boolean }
  const locs = new Map<string, Loc>()
  /** Whether this instance was evicted (its location object now has another). */
  const isGone = (loc: Loc, slice: LocalSlice) => loc.slice !== slice || locs.get(loc.name) !== loc
  const fresh = (name: string): Loc => ({ name, slice: new LocalSlice(name, newId(), now), inFlight: false, asks: [], tickArmed: false })
  for (const name of Object.keys(sc.load)) locs.set(name, fresh(name))

  /** The request's lease ends after a random duration, using a random part of its reservation; settled at its issuer. */
  function admitted(where: string, result: AdmitResult, reserved: number) {
    if (!result.ok) {
      if (result.reason === 'rate_limited') refusals.push({ at: now, scope: result.scope })
      return
    }
    const endsAt = now + 100 + random() * 2_900
    // Within the reservation (so within the billCap): the prompt's 10 tokens, then the completion.
    const usedTokens = Math.floor(reserved * random())
    const usedMicroUsd = costCeilMicroUsd(Math.min(usedTokens, 10), Math.max(0, usedTokens - 10), sc.price)
    admissions.push({ at: now, id: result.leaseId ?? newId(), tokens: reserved, endsAt, usedTokens, usedMicroUsd, where })
    const leaseId = result.leaseId
    if (!leaseId) return
    const settle = { leaseId, usedTokens, ...(sc.price ? { usedMicroUsd } : {}) }
    const deliver = () => {
      const issuer = leaseId.includes('#') ? locs.get(leaseId.slice(0, leaseId.indexOf('#'))) : undefined
      if (issuer?.slice.settle(leaseId, usedTokens, now, settle.usedMicroUsd)) return armTick(issuer)
      at(now + delay(), () => home.settle(settle)) // unknown here (evicted, or settled: a redelivery) or the home's own
    }
    at(endsAt, deliver)
    if (sc.redeliver && random() < sc.redeliver) at(endsAt + random() * 5_000, deliver) // (no draw without: seeds replay)
  }

  function homeAdmit(input: AdmitInput, reserved: number) {
    homeCalls++
    waitedOnHome++
    at(now + delay(), () => {
      const r = home.decide(input)
      admitted('home', r, reserved)
    })
  }

  function exchange(loc: Loc, options: ExchangeOptions, asks: Ask[] = []) {
    const slice = loc.slice
    const sentAt = now
    const sent: ExchangeRequest = slice.exchange('t', now, { ...options, admits: asks.map((a) => a.input) })
    loc.inFlight = true
    homeCalls++
    at(now + delay(), () => {
      const answer: ExchangeResult = answerExchange(home, state, sent, now)
      if (answer.ok) for (const [i, r] of answer.admitted.entries()) admitted('home', r, asks[i]?.reserved ?? 0)
      at(now + delay(), () => {
        if (isGone(loc, slice)) return // evicted meanwhile: the answer reaches no one
        if (answer.ok) slice.take(answer, sentAt, sent)
        loc.inFlight = false
        flushAsks(loc)
        armTick(loc)
      })
    })
  }

  /** Mirrors AdmissionLocation.decideHere: the decision here, or false when the request needs the home's room. */
  function decideHere(loc: Loc, ask: Ask, isRetry: boolean): boolean {
    const d = loc.slice.decide(ask.input, now, newId, { isRetry })
    if (d.kind === 'admitted') {
      admitted(loc.name, { ok: true, leaseId: d.leaseId, reservedTokens: d.reservedTokens, rate: d.rate }, ask.reserved)
      if (!loc.inFlight && loc.slice.wantsRefill(now)) exchange(loc, { release: false })
      armTick(loc)
      return true
    }
    if (d.kind === 'refused') return true
    if (d.reason === 'home_only') {
      homeAdmit(ask.input, ask.reserved)
      return true
    }
    return false
  }

  /** Mirrors AdmissionLocation.flushAsks: once no exchange is in flight, retry here, then send the rest in one. */
  function flushAsks(loc: Loc) {
    if (loc.inFlight || loc.asks.length === 0) return
    const toHome = loc.asks.splice(0).filter((ask) => !decideHere(loc, ask, true))
    if (toHome.length > 0) exchange(loc, { release: true }, toHome)
  }

  function request(loc: Loc) {
    const reserved = 50 + Math.floor(random() * 100)
    const input: AdmitInput = {
      tenantId: 't',
      keyId: random() < 0.5 ? 'k1' : 'k2',
      // A budget holds the prompt bound (30), not the estimate (10).
      reservation: { promptTokens: 10, completionTokens: reserved - 10, isCompletionGuess: false, promptBound: 30, price: sc.price ?? null },
      leaseTtlMs,
    }
    const ask = { input, reserved }
    if (decideHere(loc, ask, false)) return
    waitedOnHome++
    loc.asks.push(ask)
    flushAsks(loc)
  }

  function armTick(loc: Loc) {
    if (loc.tickArmed) return
    loc.tickArmed = true
    const slice = loc.slice
    at(now + IDLE_RELEASE_MS / 2, () => {
      loc.tickArmed = false
      if (isGone(loc, slice)) return // an evicted instance's timers die with it
      if (loc.inFlight) return armTick(loc)
      if (slice.isIdle(now) || slice.hasPendingSettles(now) || slice.owesBudgetReport(now)) exchange(loc, { release: slice.isIdle(now) })
      else if (slice.wantsRefill(now)) exchange(loc, { release: false })
      else if (slice.inspect(now).useByMs > 0 || slice.hasPendingSettles(now, { any: true }) || slice.owesBudgetReport(now, { any: true })) armTick(loc)
    })
  }

  // Arrivals: Poisson per location and phase.
  for (const [name, phases] of Object.entries(sc.load)) {
    for (const [from, to, rate] of phases) {
      for (let t = start + from * 1000; rate > 0; ) {
        t += (-Math.log(1 - random()) / rate) * 1000
        if (t >= start + to * 1000) break
        at(t, () => {
          const loc = locs.get(name)
          if (loc) request(loc)
        })
      }
    }
  }
  for (const [name, time] of sc.evictions ?? []) at(start + time, () => locs.set(name, fresh(name)))
  for (const time of sc.homeRestarts ?? []) at(start + time, restartHome)
  const isBudgeted = limits.budgetTokens > 0 || limits.budgetMicroUsd > 0

  while (queue.length > 0) {
    queue.sort((a, b) => a.at - b.at || a.seq - b.seq)
    const next = queue.shift()
    if (!next || next.at > start + sc.durationS * 1000 + 120_000) break
    now = Math.max(now, next.at)
    next.run()
    if (isBudgeted) checkBudget()
  }
  return { admissions, refusals, homeCalls, waitedOnHome, limits, ledger: () => ledger, worstBudget, held: (c: string) => slices.held(c, now) }
}

/**
 * The false-429 window: the longest span in which requests were refused for rpm although fewer than rpm were admitted
 * in the 60 s before (room idle in other locations' slices), with no admission in between.
 */
function falseRefusalWindow(admissions: Admission[], refusals: Array<{ at: number; scope: string }>, rpm: number) {
  const times = admissions.map((a) => a.at).sort((a, b) => a - b)
  const countIn = (t: number) => {
    let lo = 0
    let hi = times.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((times[mid] ?? 0) <= t) lo = mid + 1
      else hi = mid
    }
    let from = lo
    while (from > 0 && (times[from - 1] ?? 0) > t - WINDOW_MS) from--
    return { inWindow: lo - from, next: times[lo] ?? Infinity }
  }
  let worst = 0
  let falseCount = 0
  let spanStart: number | null = null
  for (const r of [...refusals].sort((a, b) => a.at - b.at)) {
    const { inWindow, next } = countIn(r.at)
    const isFalse = r.scope === 'requests' && inWindow < rpm
    if (!isFalse) {
      spanStart = null
      continue
    }
    falseCount++
    spanStart ??= r.at
    worst = Math.max(worst, Math.min(next, r.at) - spanStart)
    if (next !== Infinity && next < r.at + 1) spanStart = null
  }
  return { worstMs: worst, falseCount }
}

/** The largest count (or token sum, or in-flight count) over every rolling window ending at an admission. */
function worstWindows(admissions: Admission[]) {
  const sorted = [...admissions].sort((a, b) => a.at - b.at)
  let requests = 0
  let tokens = 0
  let inFlight = 0
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i]!.at
    let n = 0
    let tok = 0
    let running = 0
    for (let j = i; j >= 0 && sorted[j]!.at > t - WINDOW_MS; j--) {
      const a = sorted[j]!
      n++
      tok += a.endsAt <= t ? a.usedTokens : a.tokens // settled by then: its real usage; else its reservation
    }
    for (const a of sorted) if (a.at <= t && a.endsAt > t) running++
    requests = Math.max(requests, n)
    tokens = Math.max(tokens, tok)
    inFlight = Math.max(inFlight, running)
  }
  return { requests, tokens, inFlight }
}

const FOUR = ['apac', 'enam', 'weur', 'oc']

describe('slices under simulated distance (four locations, real ledger, book and local slices)', () => {
  it('admits at most the limits in every rolling window under bursts of 5x the limit, with 80 ms round trips', () => {
    for (const seed of [1, 2, 3]) {
      const rpm = 240
      // 5x the rpm spread over four locations for 90 s, then quiet, then again: windows straddle both bursts.
      const burst = (rpm * 5) / 60 / 4
      const load = Object.fromEntries(
        FOUR.map((name): [string, Phase[]] => [
          name,
          [
            [0, 90, burst],
            [150, 200, burst],
          ],
        ]),
      )
      const r = simulate({ seed, limits: { rpm, tpm: rpm * 90, concurrency: 24 }, oneWayMs: [20, 60], load, durationS: 200 })
      const worst = worstWindows(r.admissions)
      expect(worst.requests).toBeLessThanOrEqual(rpm)
      expect(worst.tokens).toBeLessThanOrEqual(rpm * 90)
      expect(worst.inFlight).toBeLessThanOrEqual(24)
      expect(worst.requests).toBeGreaterThan(rpm * 0.5) // the limit was really pressed (a run admitting nothing passes nothing)
      expect(r.refusals.length).toBeGreaterThan(0)
      const falses = falseRefusalWindow(r.admissions, r.refusals, rpm)
      expect(falses.worstMs).toBeLessThanOrEqual(IDLE_RELEASE_MS * 2)
    }
  })

  it('never overshoots when locations are evicted mid-burst', () => {
    const rpm = 300
    const burst = (rpm * 5) / 60 / 4
    const load = Object.fromEntries(FOUR.map((name): [string, Phase[]] => [name, [[0, 120, burst]]]))
    const evictions: Array<[string, number]> = FOUR.flatMap((name, i) => [
      [name, 5_000 + i * 7_000],
      [name, 40_000 + i * 3_000],
    ])
    for (const seed of [4, 5]) {
      const r = simulate({ seed, limits: { rpm, tpm: rpm * 100, concurrency: 30 }, oneWayMs: [20, 60], load, evictions, durationS: 120, leaseTtlMs: 5_000 })
      const worst = worstWindows(r.admissions)
      expect(worst.requests).toBeLessThanOrEqual(rpm)
      expect(worst.tokens).toBeLessThanOrEqual(rpm * 100)
      expect(worst.inFlight).toBeLessThanOrEqual(30)
    }
  })

  it('gives one busy location nearly all of the limit, and asks the home for under 5 % of admissions at a steady rate', () => {
    const rpm = 600
    // One location at 80 % of the limit for 3 minutes; the three others see nothing.
    const r = simulate({
      seed: 6,
      limits: { rpm, tpm: rpm * 200, concurrency: 60 },
      oneWayMs: [40, 40],
      load: { apac: [[0, 180, (rpm * 0.8) / 60]] },
      durationS: 180,
    })
    const second = r.admissions.filter((a) => a.at >= 60_000 && a.at < 180_000).length / 2
    expect(second).toBeGreaterThan(rpm * 0.75) // all of its demand, minute after minute
    expect(r.refusals).toHaveLength(0)
    expect(r.waitedOnHome / r.admissions.length).toBeLessThan(0.05)
    expect(r.homeCalls / r.admissions.length).toBeLessThan(0.05)
  })
})

/** What the admissions really cost, per month of their admission: the amounts their settles charge. */
function charges(admissions: Admission[]) {
  const byPeriod = new Map<string, { tokens: number; microUsd: number; count: number }>()
  for (const a of admissions) {
    const period = budgetPeriodOf(a.at)
    const c = byPeriod.get(period) ?? { tokens: 0, microUsd: 0, count: 0 }
    byPeriod.set(period, { tokens: c.tokens + a.usedTokens, microUsd: c.microUsd + a.usedMicroUsd, count: c.count + 1 })
  }
  return byPeriod
}

const PRICE: TokenPrice = { inputMicroUsdPerMTok: 2_000_000, outputMicroUsdPerMTok: 8_000_000 } // $2/M in, $8/M out
const MID_MONTH = Date.UTC(2026, 11, 10)
const PERIOD = budgetPeriodOf(MID_MONTH)

describe('budget slices under simulated distance (tokens and money, four locations)', () => {
  // 5 req/s at each of four locations for 90 s: about twice what the budgets pay for (each settle charges about half
  // its hold: the money budget runs out after some 880 requests, the token budget after some 1,200).
  const budgets = { budget_tokens: 60_000, budget_micro_usd: 300_000 }
  const load = Object.fromEntries(FOUR.map((name): [string, Phase[]] => [name, [[0, 90, 5]]]))
  const base = { limits: { rpm: 6_000, tpm: 10_000_000, concurrency: 200, ...budgets }, oneWayMs: [20, 60] as [number, number], load, durationS: 90 }

  /** `pressed`: what reached 90 % of the binding budget, the real spend, or (evictions) the home's count. */
  function expectWithinBudget(r: ReturnType<typeof simulate>, pressed: 'spent' | 'counted' = 'spent') {
    // The home's sum at every event, and what the admissions really cost.
    expect(r.worstBudget.tokens).toBeLessThanOrEqual(budgets.budget_tokens)
    expect(r.worstBudget.microUsd).toBeLessThanOrEqual(budgets.budget_micro_usd)
    const cost = charges(r.admissions).get(PERIOD)
    expect(cost?.tokens ?? 0).toBeLessThanOrEqual(budgets.budget_tokens)
    expect(cost?.microUsd ?? 0).toBeLessThanOrEqual(budgets.budget_micro_usd)
    // The budget was really pressed: the binding one is nearly spent (or, with lost slices charged, nearly all counted).
    const used = pressed === 'spent' ? (cost ?? { tokens: 0, microUsd: 0 }) : r.worstBudget
    expect(Math.max(used.tokens / budgets.budget_tokens, used.microUsd / budgets.budget_micro_usd)).toBeGreaterThan(0.9)
    return cost ?? { tokens: 0, microUsd: 0, count: 0 }
  }

  it('never exceeds either budget under bursts with 80 ms round trips, and commits each settle once (a third redelivered)', () => {
    for (const seed of [1, 2, 3]) {
      const r = simulate({ ...base, seed, startAt: MID_MONTH, price: PRICE, redeliver: 0.3 })
      const cost = expectWithinBudget(r)
      // Every settle reached the home or its location; nothing is held any more: committed is exactly what was used.
      const b = r.ledger().budget(PERIOD)
      expect({ committed: b.committed, reserved: b.reserved, held: r.held(budgetTokensCounter(PERIOD)) }).toEqual({
        committed: cost.tokens,
        reserved: 0,
        held: 0,
      })
      expect({ committed: b.committedMicroUsd, reserved: b.reservedMicroUsd, held: r.held(budgetMoneyCounter(PERIOD)) }).toEqual({
        committed: cost.microUsd,
        reserved: 0,
        held: 0,
      })
    }
  })

  it('never overshoots when locations are evicted mid-burst: a lost slice stays counted', () => {
    const evictions: Array<[string, number]> = FOUR.flatMap((name, i) => [
      [name, 5_000 + i * 7_000],
      [name, 30_000 + i * 3_000],
    ])
    for (const seed of [4, 5]) {
      const r = simulate({ ...base, seed, startAt: MID_MONTH, price: PRICE, evictions, redeliver: 0.2 })
      const cost = expectWithinBudget(r, 'counted')
      // What the lost instances held (holds of requests whose settles the home never saw, room they may have used)
      // is still counted: committed + held is never below what was really used.
      const b = r.ledger().budget(PERIOD)
      expect(b.committed + b.reserved + r.held(budgetTokensCounter(PERIOD))).toBeGreaterThanOrEqual(cost.tokens)
      expect(b.committedMicroUsd + b.reservedMicroUsd + r.held(budgetMoneyCounter(PERIOD))).toBeGreaterThanOrEqual(cost.microUsd)
    }
  })

  it('loses no committed or held budget across home restarts mid-burst', () => {
    for (const seed of [7, 8]) {
      const r = simulate({ ...base, seed, startAt: MID_MONTH, price: PRICE, redeliver: 0.2, homeRestarts: [15_000, 31_000, 47_000] })
      const cost = expectWithinBudget(r)
      const b = r.ledger().budget(PERIOD)
      expect({ committed: b.committed, reserved: b.reserved }).toEqual({ committed: cost.tokens, reserved: 0 })
      expect(b.committedMicroUsd).toBe(cost.microUsd)
    }
  })

  it('uses a month slice in that month only: the next month starts with its own budget', () => {
    const monthEnd = monthEndOf(MID_MONTH)
    // About 1,000 tokens/s are charged: December's last 15 s leave room in its slices at midnight, January's budget
    // runs out after some 20 s.
    const budget = { budget_tokens: 20_000 }
    for (const seed of [9, 11]) {
      const r = simulate({
        seed,
        limits: { rpm: 6_000, tpm: 10_000_000, concurrency: 200, ...budget },
        oneWayMs: [20, 60],
        load: Object.fromEntries(FOUR.map((name): [string, Phase[]] => [name, [[0, 60, 5]]])),
        durationS: 60,
        startAt: monthEnd - 15_000,
      })
      const byPeriod = charges(r.admissions)
      const december = byPeriod.get(budgetPeriodOf(monthEnd - 1))
      const january = byPeriod.get(budgetPeriodOf(monthEnd))
      expect(december?.tokens).toBeLessThan(budget.budget_tokens * 0.9) // room left at midnight
      expect(january?.tokens).toBeGreaterThan(budget.budget_tokens * 0.9) // the new month's budget, nearly all used
      expect(january?.tokens).toBeLessThanOrEqual(budget.budget_tokens)
      // Each month's committed is exactly what its admissions used: none admitted in January under December's slice.
      expect(r.ledger().budget(budgetPeriodOf(monthEnd - 1)).committed).toBe(december?.tokens)
      expect(r.ledger().budget(budgetPeriodOf(monthEnd)).committed).toBe(january?.tokens)
    }
  })

  it('asks the home for under 5 % of a budgeted tenant admissions at a steady rate within its limits', () => {
    const r = simulate({
      seed: 10,
      limits: { rpm: 6_000, tpm: 10_000_000, concurrency: 200, budget_tokens: 100_000_000, budget_micro_usd: 100_000_000 },
      oneWayMs: [40, 40],
      load: Object.fromEntries(FOUR.map((name): [string, Phase[]] => [name, [[0, 120, 5]]])),
      durationS: 120,
      startAt: MID_MONTH,
      price: PRICE,
    })
    // The same load without budgets: what the rate limits' slices alone cost in home calls.
    const plain = simulate({
      seed: 10,
      limits: { rpm: 6_000, tpm: 10_000_000, concurrency: 200 },
      oneWayMs: [40, 40],
      load: Object.fromEntries(FOUR.map((name): [string, Phase[]] => [name, [[0, 120, 5]]])),
      durationS: 120,
      startAt: MID_MONTH,
      price: PRICE,
    })
    expect(r.refusals).toHaveLength(0)
    expect(r.waitedOnHome / r.admissions.length).toBeLessThan(0.05)
    // The budget counters ride on the exchanges the rate limits make anyway (seed 10: 128 calls against 105).
    expect(r.homeCalls).toBeLessThan(plain.homeCalls * 1.5)
  })
})
