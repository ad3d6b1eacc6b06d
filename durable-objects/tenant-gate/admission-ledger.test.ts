import { describe, expect, it } from 'vitest'
import {
  AdmissionLedger,
  BUSY_RETRY_MS,
  isDurable,
  LATE_SETTLE_GRACE_MS,
  WINDOW_MS,
  type AdmitRequest,
  type LedgerEntry,
  type Reservation,
} from './admission-ledger.ts'
import { completionAffordable, costCeilMicroUsd } from './money.ts'
import type { Limits } from './plans.ts'

const limits = (over: Partial<Limits> = {}): Limits => ({ rpm: 0, tpm: 0, concurrency: 0, keyRpm: 0, budgetTokens: 0, budgetMicroUsd: 0, ...over })
const tokens = (promptTokens: number, completionTokens: number, isCompletionGuess = false): Reservation => ({
  promptTokens,
  completionTokens,
  isCompletionGuess,
})
let seq = 0
const req = (over: Partial<AdmitRequest> = {}): AdmitRequest => ({
  id: `lease-${seq++}`,
  keyId: 'k1',
  reservation: tokens(10, 90),
  leaseTtlMs: 30_000,
  ...over,
})
const T0 = Date.UTC(2026, 10, 15, 12)

function admitMany(ledger: AdmissionLedger, count: number, l: Limits, now: number, over: Partial<AdmitRequest> = {}) {
  return Array.from({ length: count }, () => ledger.admit(req(over), l, now))
}

describe('requests per minute (sliding log)', () => {
  it('admits exactly N of a 5N burst and says when the next one fits', () => {
    const ledger = new AdmissionLedger()
    const results = admitMany(ledger, 50, limits({ rpm: 10 }), T0)
    expect(results.filter((r) => r.ok)).toHaveLength(10)
    expect(results.at(-1)).toMatchObject({ ok: false, reason: 'rate_limited', scope: 'requests', limit: 10, used: 10, retryAfterMs: WINDOW_MS })
  })

  it('frees a slot exactly when the oldest request is 60 s old, not at a fixed boundary', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ rpm: 2 })
    ledger.admit(req(), l, T0)
    ledger.admit(req(), l, T0 + 30_000)
    expect(ledger.admit(req(), l, T0 + 59_999)).toMatchObject({ ok: false, retryAfterMs: 1 })
    expect(ledger.admit(req(), l, T0 + 60_000)).toMatchObject({ ok: true })
    expect(ledger.admit(req(), l, T0 + 60_001)).toMatchObject({ ok: false, retryAfterMs: 29_999 })
  })

  it('never admits more than N in any 60 s span, and refuses only when N are in it', () => {
    const ledger = new AdmissionLedger()
    const n = 7
    let t = T0
    const admitted: number[] = []
    const refused: number[] = []
    let rand = 42
    for (let i = 0; i < 3000; i++) {
      rand = (rand * 1103515245 + 12345) % 2 ** 31 // deterministic pseudo-random gaps, bursty and sparse
      t += rand % 5 === 0 ? rand % 20_000 : rand % 300
      ;(ledger.admit(req({ reservation: null }), limits({ rpm: n }), t).ok ? admitted : refused).push(t)
    }
    const inSpanEndingAt = (at: number) => admitted.filter((a) => a > at - WINDOW_MS && a <= at).length
    expect(Math.max(...admitted.map(inSpanEndingAt))).toBe(n)
    expect(refused.every((at) => inSpanEndingAt(at) === n)).toBe(true)
    expect(refused.length).toBeGreaterThan(100)
  })

  it('limits each key on its own and the tenant across keys', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ rpm: 5, keyRpm: 2 })
    expect(admitMany(ledger, 3, l, T0, { keyId: 'a' }).map((r) => r.ok)).toEqual([true, true, false])
    expect(ledger.admit(req({ keyId: 'a' }), l, T0)).toMatchObject({ scope: 'key_requests', limit: 2 })
    expect(admitMany(ledger, 3, l, T0, { keyId: 'b' }).map((r) => r.ok)).toEqual([true, true, false])
    expect(admitMany(ledger, 2, l, T0, { keyId: 'c' }).map((r) => r.ok)).toEqual([true, false])
    expect(ledger.admit(req({ keyId: 'd' }), l, T0)).toMatchObject({ scope: 'requests', limit: 5 })
  })

  it('reports the tighter of the key and tenant limits with its reset time', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ rpm: 100, keyRpm: 3, tpm: 1000 })
    ledger.admit(req(), l, T0)
    const second = ledger.admit(req({ reservation: tokens(50, 50) }), l, T0 + 10_000)
    expect(second).toMatchObject({
      ok: true,
      rate: { requests: { limit: 3, remaining: 1, resetMs: 60_000 }, tokens: { limit: 1000, remaining: 800, resetMs: 60_000 } },
    })
  })
})

describe('tokens per minute (reservations)', () => {
  it('admits exactly as many reservations as fit and never more than the limit', () => {
    const ledger = new AdmissionLedger()
    const results = admitMany(ledger, 50, limits({ tpm: 1099 }), T0)
    const admitted = results.filter((r) => r.ok)
    expect(admitted).toHaveLength(10)
    expect(admitted.reduce((sum, r) => sum + r.entry.tokens, 0)).toBeLessThanOrEqual(1099)
    expect(results.at(-1)).toMatchObject({ ok: false, scope: 'tokens', used: 1000, requested: 100 })
  })

  it('gives the unused part of a reservation back at once when the request settles', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ tpm: 4000 })
    const first = ledger.admit(req({ reservation: tokens(1000, 3000) }), l, T0)
    if (!first.ok) throw new Error('expected admission')
    expect(ledger.admit(req({ reservation: tokens(1, 0) }), l, T0)).toMatchObject({ ok: false, scope: 'tokens' })
    ledger.settle(first.entry.id, 100, T0 + 5)
    expect(ledger.inspect(T0 + 5).tokensInWindow).toBe(100)
    expect(ledger.admit(req({ reservation: tokens(3901, 0) }), l, T0 + 5)).toMatchObject({ ok: false, scope: 'tokens' })
    expect(ledger.admit(req({ reservation: tokens(3900, 0) }), l, T0 + 5)).toMatchObject({ ok: true, rate: { tokens: { remaining: 0 } } })
  })

  it('says how long until enough tokens leave the window', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ tpm: 1000 })
    ledger.admit(req({ reservation: tokens(500, 0) }), l, T0)
    ledger.admit(req({ reservation: tokens(500, 0) }), l, T0 + 10_000)
    expect(ledger.admit(req({ reservation: tokens(500, 0) }), l, T0 + 20_000)).toMatchObject({ retryAfterMs: 40_000 })
    expect(ledger.admit(req({ reservation: tokens(1000, 0) }), l, T0 + 20_000)).toMatchObject({ retryAfterMs: 50_000 })
  })

  it('refuses a request whose own max_tokens can never fit, and shrinks a guessed completion instead', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ tpm: 1000 })
    expect(ledger.admit(req({ reservation: tokens(10, 2000) }), l, T0)).toMatchObject({ ok: false, reason: 'request_too_large', limit: 1000, requested: 2010 })
    expect(ledger.admit(req({ reservation: tokens(1000, 4096, true) }), l, T0)).toMatchObject({ ok: false, reason: 'request_too_large' })
    expect(ledger.admit(req({ reservation: tokens(10, 4096, true) }), l, T0)).toMatchObject({ ok: true, entry: { tokens: 1000 } })
  })

  it('charges a request that used more than it reserved, so later ones wait', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ tpm: 1000 })
    const first = ledger.admit(req({ reservation: tokens(10, 990, true) }), l, T0)
    if (!first.ok) throw new Error('expected admission')
    ledger.settle(first.entry.id, 1500, T0 + 1)
    expect(ledger.admit(req({ reservation: tokens(1, 0) }), l, T0 + 1)).toMatchObject({ ok: false, scope: 'tokens', retryAfterMs: WINDOW_MS - 1 })
  })
})

describe('concurrency (leases)', () => {
  it('admits exactly N in flight and frees a slot on settle', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ concurrency: 3 })
    const results = admitMany(ledger, 15, l, T0)
    expect(results.filter((r) => r.ok)).toHaveLength(3)
    expect(results.at(-1)).toMatchObject({ scope: 'concurrency', retryAfterMs: BUSY_RETRY_MS })
    const first = results[0]
    if (!first?.ok) throw new Error('expected admission')
    ledger.settle(first.entry.id, 5, T0 + 1)
    expect(ledger.admit(req(), l, T0 + 1).ok).toBe(true)
  })

  it('does not hold a slot for requests without a lease (GET /v1/models)', () => {
    const ledger = new AdmissionLedger()
    expect(admitMany(ledger, 5, limits({ concurrency: 1 }), T0, { reservation: null }).every((r) => r.ok)).toBe(true)
  })

  it('releases the slot of a lease that expires, without a settle', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ concurrency: 1 })
    ledger.admit(req({ leaseTtlMs: 1000 }), l, T0)
    expect(ledger.admit(req(), l, T0 + 999).ok).toBe(false)
    expect(ledger.admit(req(), l, T0 + 1000).ok).toBe(true)
  })

  it('keeps the slot of a lease renewed before it expires, also through the sweep at its old expiry', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ concurrency: 1, budgetTokens: 1_000_000 })
    const first = ledger.admit(req({ leaseTtlMs: 1000 }), l, T0)
    if (!first.ok) throw new Error('expected an admission')
    expect(ledger.renew(first.entry.id, 1000, T0 + 900)).toMatchObject({ entries: [{ id: first.entry.id, expiresAt: T0 + 1900 }] })
    ledger.sweep(T0 + 1000, T0 + 1000)
    expect(ledger.inspect(T0 + 1000)).toMatchObject({ inFlight: 1 })
    expect(ledger.admit(req(), l, T0 + 1899).ok).toBe(false)
    expect(ledger.nextLeaseEvent()).toBe(T0 + 1900)
    expect(ledger.admit(req(), l, T0 + 1900).ok).toBe(true)
  })

  it("does not renew a lease that expired (its slot may be someone else's) or was settled", () => {
    const ledger = new AdmissionLedger()
    const l = limits({ concurrency: 2 })
    const expired = ledger.admit(req({ leaseTtlMs: 1000 }), l, T0)
    const settled = ledger.admit(req({ leaseTtlMs: 1000 }), l, T0)
    if (!expired.ok || !settled.ok) throw new Error('expected admissions')
    ledger.settle(settled.entry.id, 10, T0 + 10)
    expect(ledger.renew(settled.entry.id, 1000, T0 + 20)).toBeNull()
    expect(ledger.renew(expired.entry.id, 1000, T0 + 1000)).toBeNull()
    expect(ledger.renew('no-such-lease', 1000, T0)).toBeNull()
  })

  it('lets the alarm sweep release slots due at its time', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ concurrency: 1, budgetTokens: 1_000_000 })
    ledger.admit(req({ leaseTtlMs: 1000 }), l, T0)
    expect(ledger.nextLeaseEvent()).toBe(T0 + 1000)
    ledger.sweep(T0 + 1000, T0 + 1000)
    expect(ledger.inspect(T0 + 1000)).toMatchObject({ inFlight: 0, unsettled: 1 })
  })

  it('needs no alarm for leases without budget, and forgets an expired one once it left the window', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ concurrency: 2 })
    const kept = ledger.admit(req({ leaseTtlMs: 1000 }), l, T0)
    const lost = ledger.admit(req({ leaseTtlMs: 1000 }), l, T0)
    if (!kept.ok || !lost.ok) throw new Error('expected admissions')
    expect(isDurable(kept.entry)).toBe(false)
    expect(ledger.nextLeaseEvent()).toBe(Infinity)
    expect(ledger.renew(kept.entry.id, 120_000, T0 + 500)).not.toBeNull()
    expect(ledger.inspect(T0 + 30_000)).toMatchObject({ inFlight: 1, unsettled: 2 }) // late settle still refunds in the window
    expect(ledger.inspect(T0 + WINDOW_MS)).toMatchObject({ inFlight: 1, unsettled: 1 }) // expired and out of the window
    expect(ledger.settle(lost.entry.id, 10, T0 + WINDOW_MS)).toBeNull()
    expect(ledger.settle(kept.entry.id, 10, T0 + WINDOW_MS)).not.toBeNull()
  })

  it('settles exactly once: a second settle of the same lease changes nothing', () => {
    const ledger = new AdmissionLedger()
    const a = ledger.admit(req(), limits({ tpm: 1000 }), T0)
    if (!a.ok) throw new Error('expected admission')
    expect(ledger.settle(a.entry.id, 40, T0)).not.toBeNull()
    expect(ledger.settle(a.entry.id, 0, T0)).toBeNull()
    expect(ledger.inspect(T0).tokensInWindow).toBe(40)
  })
})

describe('token budgets', () => {
  const l = limits({ budgetTokens: 1000 })

  it('holds reservations, commits real usage, and refuses for good once spent', () => {
    const ledger = new AdmissionLedger()
    const a = ledger.admit(req({ reservation: tokens(100, 500) }), l, T0)
    if (!a.ok) throw new Error('expected admission')
    expect(ledger.budget('2026-11')).toMatchObject({ committed: 0, reserved: 600 })
    ledger.settle(a.entry.id, 950, T0 + 1)
    expect(ledger.budget('2026-11')).toMatchObject({ committed: 950, reserved: 0 })
    const b = ledger.admit(req({ reservation: tokens(10, 40) }), l, T0 + 2)
    if (!b.ok) throw new Error('expected admission')
    ledger.settle(b.entry.id, 50, T0 + 3)
    expect(ledger.admit(req({ reservation: tokens(1, 0) }), l, T0 + 4)).toMatchObject({ ok: false, reason: 'budget_exhausted', budget: 1000, used: 1000 })
  })

  it('asks to retry (not to give up) when only holds of requests in flight are in the way', () => {
    const ledger = new AdmissionLedger()
    ledger.admit(req({ reservation: tokens(100, 800) }), l, T0)
    expect(ledger.admit(req({ reservation: tokens(100, 100) }), l, T0)).toMatchObject({
      ok: false,
      reason: 'rate_limited',
      scope: 'budget_in_flight',
      retryAfterMs: BUSY_RETRY_MS,
    })
  })

  it('shrinks a guessed completion to the budget left instead of refusing', () => {
    const ledger = new AdmissionLedger()
    ledger.admit(req({ reservation: tokens(100, 800) }), l, T0)
    expect(ledger.admit(req({ reservation: tokens(50, 4096, true) }), l, T0)).toMatchObject({ ok: true, entry: { budgetHold: 100 } })
  })

  it('starts a new budget each calendar month and settles into the month it was reserved in', () => {
    const ledger = new AdmissionLedger()
    const endOfMonth = Date.UTC(2026, 10, 30, 23, 59, 59)
    const a = ledger.admit(req({ reservation: tokens(0, 1000) }), l, endOfMonth)
    if (!a.ok) throw new Error('expected admission')
    ledger.settle(a.entry.id, 1000, endOfMonth + 2000)
    expect(ledger.budget('2026-11').committed).toBe(1000)
    expect(ledger.admit(req({ reservation: tokens(0, 1000) }), l, endOfMonth + 2000)).toMatchObject({ ok: true, entry: { budgetPeriod: '2026-12' } })
  })

  it('charges the hold of a lease never settled once the grace period is over, and still accepts a late settle before', () => {
    const ledger = new AdmissionLedger()
    const a = ledger.admit(req({ reservation: tokens(0, 300), leaseTtlMs: 1000 }), l, T0)
    const b = ledger.admit(req({ reservation: tokens(0, 300), leaseTtlMs: 1000 }), l, T0)
    if (!a.ok || !b.ok) throw new Error('expected admission')
    ledger.settle(a.entry.id, 20, T0 + 5000) // late, after the lease expired: still exact
    expect(ledger.nextLeaseEvent()).toBe(T0 + 1000 + LATE_SETTLE_GRACE_MS)
    const changes = ledger.sweep(T0 + 1000 + LATE_SETTLE_GRACE_MS, T0 + 1000 + LATE_SETTLE_GRACE_MS)
    expect(changes.entries.map((e) => e.id)).toEqual([b.entry.id])
    expect(ledger.budget('2026-11')).toMatchObject({ committed: 320, reserved: 0 })
    expect(ledger.settle(b.entry.id, 1, T0 + 2 * LATE_SETTLE_GRACE_MS)).toBeNull()
  })
})

describe('money budgets (budget_usd, micro-dollars)', () => {
  // $2/M input, $10/M output: 1,000 prompt tokens cost 2,000 µ$, 1,000 completion tokens 10,000 µ$.
  const price = { inputMicroUsdPerMTok: 2_000_000, outputMicroUsdPerMTok: 10_000_000 }
  const priced = (prompt: number, completion: number, isGuess = false, promptBound?: number): Reservation => ({
    ...tokens(prompt, completion, isGuess),
    price,
    ...(promptBound === undefined ? {} : { promptBound }),
  })
  const l = limits({ budgetMicroUsd: 30_000 })

  it('holds the worst-case cost (prompt bound, completion allowance), commits the real cost, refunds the rest', () => {
    const ledger = new AdmissionLedger()
    const a = ledger.admit(req({ reservation: priced(250, 1000, false, 1000) }), l, T0)
    if (!a.ok) throw new Error('expected admission')
    // The hold uses the bound (1,000), not the estimate (250): 2,000 + 10,000 µ$.
    expect(a.entry.costHold).toBe(12_000)
    expect(a.billCap).toEqual({ promptTokens: 1000, completionTokens: 1000 })
    expect(ledger.budget('2026-11')).toMatchObject({ reservedMicroUsd: 12_000, committedMicroUsd: 0 })
    ledger.settle(a.entry.id, 400, T0 + 1, 1_500)
    expect(ledger.budget('2026-11')).toMatchObject({ reservedMicroUsd: 0, committedMicroUsd: 1_500 })
  })

  it('never commits more than was held, and charges the whole hold when the settle brings no cost', () => {
    const ledger = new AdmissionLedger()
    const a = ledger.admit(req({ reservation: priced(100, 100) }), l, T0) // 200 + 1,000 µ$
    const b = ledger.admit(req({ reservation: priced(100, 100) }), l, T0)
    if (!a.ok || !b.ok) throw new Error('expected admissions')
    ledger.settle(a.entry.id, 200, T0, 99_999)
    ledger.settle(b.entry.id, 200, T0)
    expect(ledger.budget('2026-11')).toMatchObject({ committedMicroUsd: 2_400, reservedMicroUsd: 0 })
  })

  it('shrinks a guessed completion to what the money left pays for, and refuses a client-set one that does not fit', () => {
    const ledger = new AdmissionLedger()
    const first = ledger.admit(req({ reservation: priced(1000, 2000) }), l, T0) // 22,000 µ$ held
    if (!first.ok) throw new Error('expected admission')
    ledger.settle(first.entry.id, 3000, T0, 22_000) // 8,000 µ$ left
    // 8,000 - 2,000 (prompt) = 6,000 µ$ pays for 600 completion tokens at $10/M.
    const guessed = ledger.admit(req({ reservation: priced(1000, 4096, true) }), l, T0)
    expect(guessed).toMatchObject({ ok: true, grantedTokens: 1600, billCap: { promptTokens: 1000, completionTokens: 600 }, entry: { costHold: 8_000 } })
    expect(ledger.admit(req({ reservation: priced(10, 10) }), l, T0)).toMatchObject({
      ok: false,
      reason: 'rate_limited',
      scope: 'budget_in_flight',
      unit: 'micro_usd',
    })
    if (!guessed.ok) throw new Error('expected admission')
    ledger.settle(guessed.entry.id, 1600, T0, 8_000)
    expect(ledger.admit(req({ reservation: priced(1, 0) }), l, T0)).toMatchObject({
      ok: false,
      reason: 'budget_exhausted',
      unit: 'micro_usd',
      budget: 30_000,
      used: 30_000,
    })
  })

  it('refuses for good a client-set allowance the money left cannot pay, as the token budget does', () => {
    const ledger = new AdmissionLedger()
    expect(ledger.admit(req({ reservation: priced(1000, 3000) }), l, T0)).toMatchObject({
      ok: false,
      reason: 'budget_exhausted',
      unit: 'micro_usd',
      requested: 32_000,
    })
  })

  it('rounds each direction of a hold up to the micro-dollar, so no request is held for less than it is billed', () => {
    const ledger = new AdmissionLedger()
    const cheap = { inputMicroUsdPerMTok: 1, outputMicroUsdPerMTok: 3 } // $0.000001/M and $0.000003/M
    const a = ledger.admit(req({ reservation: { ...tokens(5, 7), price: cheap } }), l, T0)
    expect(a).toMatchObject({ ok: true, entry: { costHold: 2 } })
    expect(costCeilMicroUsd(500_000, 0, cheap)).toBe(1) // exactly half a micro-dollar: up
    expect(costCeilMicroUsd(1_000_000, 1_000_000, cheap)).toBe(4)
    expect(completionAffordable(4, 1_000_000, cheap)).toBe(1_000_000)
    expect(completionAffordable(0, 1, cheap)).toBe(-1)
  })

  it('keeps a bursts total within the budget: the sum committed never passes it', () => {
    const ledger = new AdmissionLedger()
    const small = limits({ budgetMicroUsd: 1_000_000 }) // $1.00
    let committed = 0
    let refusedForGood = 0
    for (let i = 0; i < 500; i++) {
      const r = ledger.admit(req({ reservation: priced(500, 1000, true, 2000) }), small, T0 + i)
      if (!r.ok) {
        if (r.reason === 'budget_exhausted') refusedForGood++
        continue
      }
      // The node used everything it was granted: the worst case for the budget.
      const cap = r.billCap ?? { promptTokens: 0, completionTokens: 0 }
      const cost = costCeilMicroUsd(cap.promptTokens, cap.completionTokens, price)
      ledger.settle(r.entry.id, cap.promptTokens + cap.completionTokens, T0 + i, cost)
      committed += cost
    }
    expect(committed).toBeLessThanOrEqual(1_000_000)
    expect(ledger.budget('2026-11').committedMicroUsd).toBe(committed)
    expect(refusedForGood).toBeGreaterThan(0)
  })

  it('refuses a price that is not two safe integers', () => {
    const ledger = new AdmissionLedger()
    const bad = { ...tokens(1, 1), price: { inputMicroUsdPerMTok: 0.5, outputMicroUsdPerMTok: 1 } }
    expect(ledger.admit(req({ reservation: bad }), l, T0)).toMatchObject({ ok: false, reason: 'invalid_reservation' })
  })
})

describe('restore', () => {
  it('rebuilds windows, leases and budgets from persisted entries', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ rpm: 2, concurrency: 2, budgetTokens: 10_000 })
    const entries: LedgerEntry[] = []
    for (let i = 0; i < 2; i++) {
      const r = ledger.admit(req(), l, T0 + i)
      if (r.ok) entries.push(...r.changes.entries)
    }
    const first = entries[0]
    if (!first) throw new Error('expected entries')
    ledger.settle(first.id, 7, T0 + 10)
    const restored = new AdmissionLedger()
    restored.restore(
      entries.map((e) => ({ ...e })),
      new Map([['2026-11', ledger.budget('2026-11')]]),
      T0 + 20,
    )
    expect(restored.inspect(T0 + 20)).toEqual(ledger.inspect(T0 + 20))
    expect(restored.admit(req(), l, T0 + 20)).toMatchObject({ ok: false, scope: 'requests' })
    expect(restored.inspect(T0 + 20)).toMatchObject({ requestsInWindow: 2, tokensInWindow: 107, inFlight: 1 })
    expect(restored.budget('2026-11')).toMatchObject({ committed: 7, reserved: 100 })
  })
})

describe('non-finite token counts', () => {
  it('refuses a reservation of Infinity or NaN and keeps the TPM window exact for the requests after it', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ tpm: 400 })
    for (const bad of [tokens(10, Infinity), tokens(Number.NaN, 5), tokens(10, 1.5)]) {
      expect(ledger.admit(req({ reservation: bad }), l, T0)).toMatchObject({ ok: false, reason: 'invalid_reservation' })
    }
    // 100 tokens each: exactly four fit in 400 (the window is not NaN, so the limit still holds).
    const results = admitMany(ledger, 8, l, T0)
    expect(results.filter((r) => r.ok)).toHaveLength(4)
    expect(results.at(-1)).toMatchObject({ ok: false, reason: 'rate_limited', scope: 'tokens' })
  })

  it('settles usage that is not a finite count as 0', () => {
    const ledger = new AdmissionLedger()
    const l = limits({ tpm: 200 })
    const first = ledger.admit(req(), l, T0)
    if (!first.ok) throw new Error('expected an admission')
    expect(ledger.settle(first.entry.id, Infinity, T0)).toMatchObject({ entries: [{ tokens: 0 }] })
    expect(admitMany(ledger, 3, l, T0).filter((r) => r.ok)).toHaveLength(2)
  })
})
