import { describe, expect, it } from 'vitest'
import { PLANS, requestLimits, tenantLimits } from './plans.ts'

describe('limits', () => {
  it("takes the plan's limits when the tenant has no overrides", () => {
    expect(tenantLimits('free', {})).toEqual(PLANS.free)
  })

  it('lets each override win, 0 included (unlimited)', () => {
    expect(tenantLimits('free', { rpm: 500, concurrency: 0, budget_tokens: 5 })).toEqual({ ...PLANS.free, rpm: 500, concurrency: 0, budgetTokens: 5 })
  })

  it('falls back to the default plan for a plan it does not know', () => {
    expect(tenantLimits('legacy-gold', { tpm: 1 })).toEqual({ ...PLANS.default, tpm: 1 })
  })

  it("uses a key's own rpm over the tenant's key_rpm", () => {
    const tenant = tenantLimits('default', { key_rpm: 10 })
    expect(requestLimits(tenant, {}).keyRpm).toBe(10)
    expect(requestLimits(tenant, { rpm: 3 }).keyRpm).toBe(3)
    expect(requestLimits(tenant, { rpm: 0 }).keyRpm).toBe(0)
  })
})
