import { describe, expect, it } from 'vitest'
import { closedHours, HOUR_MS, meterIdentifier, planMeterPushes } from './meter-plan.ts'

const H = Date.UTC(2026, 10, 20, 13) // an hour start
const total = (tenantId: string, hourStart: number, microUsd: number) => ({ tenantId, stripeCustomerId: `cus_${tenantId}`, hourStart, microUsd })

describe('closedHours', () => {
  it('closes an hour only once it ended at least the grace period ago', () => {
    expect(closedHours(H + HOUR_MS + 4 * 60_000, 5 * 60_000, 2).to).toBe(H)
    expect(closedHours(H + HOUR_MS + 5 * 60_000, 5 * 60_000, 2)).toEqual({ from: H - HOUR_MS, to: H + HOUR_MS })
  })
})

describe('planMeterPushes', () => {
  it('gives each tenant-hour a deterministic identifier from tenant, meter and hour start (seconds)', () => {
    const totals = [total('ten_a', H, 150), total('ten_b', H, 7), total('ten_a', H + HOUR_MS, 10)]
    const first = planMeterPushes(totals, [], 'cic_tokens')
    expect(first.intents.map((i) => i.identifier)).toEqual([
      `ten_a:cic_tokens:${H / 1000}`,
      `ten_b:cic_tokens:${H / 1000}`,
      `ten_a:cic_tokens:${(H + HOUR_MS) / 1000}`,
    ])
    expect(
      planMeterPushes([...totals].reverse(), [], 'cic_tokens')
        .intents.map((i) => i.identifier)
        .sort(),
    ).toEqual(first.intents.map((i) => i.identifier).sort())
    expect(first.intents[0]).toEqual({
      identifier: `ten_a:cic_tokens:${H / 1000}`,
      tenantId: 'ten_a',
      hourStart: H,
      seq: 0,
      stripeCustomerId: 'cus_ten_a',
      value: 150,
    })
  })

  it('plans nothing for an hour already pushed in full (sent or still being retried)', () => {
    expect(planMeterPushes([total('ten_a', H, 150)], [{ tenantId: 'ten_a', hourStart: H, pushed: 150, maxSeq: 0 }], 'm').intents).toEqual([])
  })

  it('sends usage that arrived after the push as a correction with the next seq and only the difference', () => {
    const { intents } = planMeterPushes([total('ten_a', H, 175)], [{ tenantId: 'ten_a', hourStart: H, pushed: 150, maxSeq: 1 }], 'm')
    expect(intents).toEqual([expect.objectContaining({ identifier: `ten_a:m:${H / 1000}:2`, seq: 2, value: 25 })])
  })

  it('skips empty hours and reports an hour that was pushed more than the ledger holds', () => {
    const result = planMeterPushes([total('ten_a', H, 0), total('ten_b', H, 5)], [{ tenantId: 'ten_b', hourStart: H, pushed: 9, maxSeq: 0 }], 'm')
    expect(result.intents).toEqual([])
    expect(result.overPushed).toEqual([total('ten_b', H, 5)])
  })

  it("keeps identifiers within Stripe's 100 characters for the longest configured names", () => {
    expect(meterIdentifier(`ten_${'x'.repeat(24)}`, 'e'.repeat(50), H, 999).length).toBeLessThanOrEqual(100)
  })
})
