// Budget slices step by step: the home's real ledger, book and exchange (home-exchange.ts) and one or two locations'
// real LocalSlice, with time as a parameter. The slices simulation (slices-simulation.test.ts) checks the same under
// random load; these pin down the single moves of README "Budgets": a settle's refund or extra charge at the location,
// the hold moving home with the report, a redelivered settle, a lost instance's units, the month's end.
import { describe, expect, it } from 'vitest'
import { AdmissionLedger, budgetPeriodOf } from '../tenant-gate/admission-ledger.ts'
import type { AdmitInput, ExchangeRequest, ExchangeResult } from '../tenant-gate/contract.ts'
import { answerExchange, type Home } from '../tenant-gate/home-exchange.ts'
import { requestLimits, tenantLimits, type LimitOverrides } from '../tenant-gate/plans.ts'
import { SliceBook } from '../tenant-gate/slice-book.ts'
import { budgetMoneyCounter, budgetTokensCounter, type LocationState } from '../tenant-gate/slices.ts'
import { LocalSlice } from './local-slice.ts'

const T0 = Date.UTC(2026, 11, 10)
const PERIOD = budgetPeriodOf(T0)
const TOK = budgetTokensCounter(PERIOD)
const USD = budgetMoneyCounter(PERIOD)
const price = { inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 4_000_000 } // 1 µ$ per input token, 4 per output
// Holds 20 + 80 = 100 tokens and 20 + 320 = 340 µ$.
const reservation = { promptTokens: 10, completionTokens: 80, isCompletionGuess: false, promptBound: 20, price }

function world(overrides: LimitOverrides) {
  let ids = 0
  const newId = () => `id-${ids++}`
  const limits = tenantLimits('enterprise', overrides)
  const state: LocationState = { status: 'active', statusReason: null, plan: 'enterprise', limits: overrides, revokedKeyIds: [] }
  const ledger = new AdmissionLedger()
  const slices = new SliceBook()
  let now = T0
  const home: Home = {
    ledger,
    slices,
    limits: () => limits,
    settle: (s) => {
      ledger.settle(s.leaseId, s.usedTokens, now, s.usedMicroUsd)
    },
    decide: (input) => {
      const r = ledger.admit(
        { id: newId(), keyId: input.keyId, reservation: input.reservation ?? null, leaseTtlMs: 600_000 },
        requestLimits(limits, input.keyLimits ?? {}),
        now,
        (c) => slices.held(c, now),
      )
      return r.ok ? { ok: true, leaseId: r.entry.id, reservedTokens: r.grantedTokens, billCap: r.billCap, rate: r.rate } : r
    },
  }
  const input: AdmitInput = { tenantId: 't', keyId: 'k1', reservation, leaseTtlMs: 600_000 }
  /** One exchange, answered at once (no distance). */
  const exchange = (slice: LocalSlice, release = false, admits: AdmitInput[] = []) => {
    const sent: ExchangeRequest = slice.exchange('t', now, { release, admits })
    const answer: ExchangeResult = answerExchange(home, state, sent, now)
    if (answer.ok) slice.take(answer, now, sent)
    return answer
  }
  /** A location that has asked the home once (its first request decided there) and holds a slice. */
  const location = (name: string) => {
    const slice = new LocalSlice(name, newId(), now)
    expect(slice.decide(input, now, newId).kind).toBe('ask_home')
    const answer = exchange(slice, true, [input])
    if (!answer.ok || !answer.admitted[0]?.ok) throw new Error('first admission refused')
    return { slice, firstLease: answer.admitted[0].leaseId as string }
  }
  const admit = (slice: LocalSlice) => {
    const d = slice.decide(input, now, newId)
    if (d.kind !== 'admitted') throw new Error(`not admitted here: ${JSON.stringify(d)} ${JSON.stringify(slice.inspect(now))}`)
    return d
  }
  /** The home's sum for the month: committed + its holds + every slice's outstanding units. */
  const homeSum = () => ({
    tokens: ledger.used(TOK, now) + slices.held(TOK, now),
    microUsd: ledger.used(USD, now) + slices.held(USD, now),
  })
  return { ledger, slices, home, exchange, location, admit, homeSum, advance: (ms: number) => (now += ms), now: () => now, newId }
}

describe('budget slices, one move at a time', () => {
  it('admits at the location under its budget slice, with the hold and billCap the home would give', () => {
    const w = world({ budget_tokens: 100_000, budget_micro_usd: 1_000_000 })
    const { slice } = w.location('apac')
    const d = w.admit(slice)
    expect(d.billCap).toEqual({ promptTokens: 20, completionTokens: 80 })
    expect(d.reservedTokens).toBe(90)
    expect(slice.inspect(w.now()).room[TOK]).toBeGreaterThan(0)
  })

  it('a settle before the report refunds the room at the location, and the report commits the actual charge once', () => {
    const w = world({ budget_tokens: 100_000, budget_micro_usd: 1_000_000 })
    const { slice } = w.location('apac')
    const roomBefore = slice.inspect(w.now()).room
    const d = w.admit(slice)
    expect(slice.inspect(w.now()).room[TOK]).toBe((roomBefore[TOK] ?? 0) - 100)
    expect(slice.inspect(w.now()).room[USD]).toBe((roomBefore[USD] ?? 0) - 340)
    // Used 10 prompt + 30 completion tokens: 10 + 120 µ$.
    expect(slice.settle(d.leaseId as string, 40, w.now(), 130)).toBe(true)
    expect(slice.inspect(w.now()).room[TOK]).toBe((roomBefore[TOK] ?? 0) - 40)
    expect(slice.inspect(w.now()).room[USD]).toBe((roomBefore[USD] ?? 0) - 130)
    const committedBefore = w.ledger.budget(PERIOD)
    const before = { tokens: committedBefore.committed, microUsd: committedBefore.committedMicroUsd }
    w.exchange(slice, true)
    const b = w.ledger.budget(PERIOD)
    expect({ tokens: b.committed - before.tokens, microUsd: b.committedMicroUsd - before.microUsd }).toEqual({ tokens: 40, microUsd: 130 })
    w.exchange(slice, true) // a retry of the report (same entries acknowledged): nothing twice
    expect(w.ledger.budget(PERIOD).committed - before.tokens).toBe(40)
  })

  it('usage above the hold is charged as the ledger does (tokens whole; money never past its hold)', () => {
    const w = world({ budget_tokens: 100_000, budget_micro_usd: 1_000_000 })
    const { slice } = w.location('apac')
    const before = { ...w.ledger.budget(PERIOD) }
    const d = w.admit(slice)
    slice.settle(d.leaseId as string, 150, w.now(), 9_999)
    w.exchange(slice, true)
    const b = w.ledger.budget(PERIOD)
    expect({ tokens: b.committed - before.committed, microUsd: b.committedMicroUsd - before.committedMicroUsd }).toEqual({ tokens: 150, microUsd: 340 })
  })

  it('a reported hold moves home: its settle (forwarded, or redelivered to the home) commits the actual charge once', () => {
    const w = world({ budget_tokens: 100_000, budget_micro_usd: 1_000_000 })
    const { slice } = w.location('apac')
    const d = w.admit(slice)
    w.exchange(slice) // reported open: the home holds it now
    const held = { ...w.ledger.budget(PERIOD) }
    expect(held.reserved).toBeGreaterThanOrEqual(100)
    const sum = w.homeSum()
    slice.settle(d.leaseId as string, 40, w.now(), 130) // sent already: queued for the home
    w.exchange(slice)
    w.home.settle({ leaseId: d.leaseId as string, usedTokens: 40, usedMicroUsd: 130 }) // a redelivery straight to the home
    w.home.settle({ leaseId: d.leaseId as string, usedTokens: 40, usedMicroUsd: 130 })
    const b = w.ledger.budget(PERIOD)
    expect(b.reserved).toBe(held.reserved - 100)
    expect(b.committed).toBe(held.committed + 40)
    expect(b.committedMicroUsd).toBe(held.committedMicroUsd + 130)
    expect(w.homeSum().tokens).toBeLessThanOrEqual(sum.tokens) // the refund made room, nothing else changed
  })

  it('keeps counting a lost instance units until its leases are past the grace, then charges them for good', () => {
    const w = world({ budget_tokens: 100_000, budget_micro_usd: 1_000_000 })
    const { slice } = w.location('apac')
    w.admit(slice)
    w.admit(slice)
    const sum = w.homeSum()
    // The instance is evicted here: its two admissions are never reported, their settles reach no one who knows them.
    w.advance(60 * 60_000)
    expect(w.homeSum()).toEqual(sum) // an hour later, still counted
    w.advance(20 * 60_000) // past its slice's use-by, its leases' longest TTL, and the grace
    const lapsed = w.slices.lapse(w.now())
    expect(lapsed.length).toBeGreaterThan(0)
    for (const l of lapsed) {
      const kind = l.counter === TOK ? 'tokens' : 'micro_usd'
      w.ledger.commitLapsed(PERIOD, kind, l.units)
    }
    expect(w.homeSum()).toEqual(sum) // moved into committed, not lost
    expect(w.slices.held(TOK, w.now())).toBe(0)
  })
})
