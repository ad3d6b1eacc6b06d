// Budget thresholds: which of 50 %, 80 % and 100 % of a monthly budget (tokens or money) a change of the committed
// amount crossed. Pure; the object (tenant-gate.ts) reports each crossing once: an audit row in D1 (counted at
// scrape as cic_budget_threshold_crossings_total, no tenant label), a log line, and the notifier seam (email).
import type { BudgetUnit } from './admission-ledger.ts'
import type { Limits } from './plans.ts'

/** The audit action of a crossing (counted at scrape: workers/src/services/metrics/state-gauges.ts). */
export const BUDGET_THRESHOLD_ACTION = 'tenant.budget_threshold'

export const BUDGET_THRESHOLDS_PERCENT = [50, 80, 100] as const

export type BudgetCrossing = { unit: BudgetUnit; thresholdPercent: (typeof BUDGET_THRESHOLDS_PERCENT)[number]; budget: number; committed: number }
export type Committed = { tokens: number; microUsd: number }

/** Thresholds t with before < t% of the budget ≤ after (committed only grows within a month, so each fires once). */
export function budgetCrossings(before: Committed, after: Committed, limits: Limits): BudgetCrossing[] {
  const crossings: BudgetCrossing[] = []
  const check = (unit: BudgetUnit, budget: number, was: number, now: number) => {
    if (budget <= 0) return
    for (const thresholdPercent of BUDGET_THRESHOLDS_PERCENT) {
      // was < budget × t / 100 ≤ now, in integers: 100 × was < budget × t ≤ 100 × now
      if (100 * was < budget * thresholdPercent && budget * thresholdPercent <= 100 * now) crossings.push({ unit, thresholdPercent, budget, committed: now })
    }
  }
  check('tokens', limits.budgetTokens, before.tokens, after.tokens)
  check('micro_usd', limits.budgetMicroUsd, before.microUsd, after.microUsd)
  return crossings
}

/**
 * Where a crossing goes beyond the audit row and the log: the seam for telling the tenant (an email). Nothing is
 * sent yet: there is no mail provider in CIC; a provider's binding or an outbound queue plugs in here.
 */
export type BudgetNotifier = (tenantId: string, period: string, crossing: BudgetCrossing) => Promise<void>
export const notifyNobody: BudgetNotifier = async () => {}
