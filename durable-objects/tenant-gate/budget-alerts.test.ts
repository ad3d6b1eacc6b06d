import { describe, expect, it } from 'vitest'
import { budgetCrossings } from './budget-alerts.ts'
import type { Limits } from './plans.ts'

const limits = (over: Partial<Limits>): Limits => ({ rpm: 0, tpm: 0, concurrency: 0, keyRpm: 0, budgetTokens: 0, budgetMicroUsd: 0, ...over })

describe('budgetCrossings', () => {
  it('reports each of 50/80/100 % once, when the committed amount reaches it', () => {
    const l = limits({ budgetMicroUsd: 1_000_000 })
    expect(budgetCrossings({ tokens: 0, microUsd: 0 }, { tokens: 0, microUsd: 499_999 }, l)).toEqual([])
    expect(budgetCrossings({ tokens: 0, microUsd: 499_999 }, { tokens: 0, microUsd: 500_000 }, l)).toEqual([
      { unit: 'micro_usd', thresholdPercent: 50, budget: 1_000_000, committed: 500_000 },
    ])
    expect(budgetCrossings({ tokens: 0, microUsd: 500_000 }, { tokens: 0, microUsd: 600_000 }, l)).toEqual([])
    expect(budgetCrossings({ tokens: 0, microUsd: 600_000 }, { tokens: 0, microUsd: 1_000_000 }, l).map((c) => c.thresholdPercent)).toEqual([80, 100])
  })
  it('checks tokens and money each against its own budget, and nothing without one', () => {
    const both = limits({ budgetTokens: 10, budgetMicroUsd: 100 })
    expect(budgetCrossings({ tokens: 4, microUsd: 0 }, { tokens: 5, microUsd: 80 }, both).map((c) => [c.unit, c.thresholdPercent])).toEqual([
      ['tokens', 50],
      ['micro_usd', 50],
      ['micro_usd', 80],
    ])
    expect(budgetCrossings({ tokens: 0, microUsd: 0 }, { tokens: 1e9, microUsd: 1e9 }, limits({}))).toEqual([])
  })
})
