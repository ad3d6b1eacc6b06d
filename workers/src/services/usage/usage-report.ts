// Reads the usage ledger: totals and per-model rows for a tenant over a time range (ms since epoch), from the
// hourly rollup (kept 90 days; raw events are pruned after the dedupe horizon): hours starting in [from, to).
import { and, eq, gte, lt, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { usageHourly } from '../../db/schema.ts'
import { costMicroUsdSum, costUsd } from './usage-cost.ts'

export type UsageRange = { from?: number | undefined; to?: number | undefined }

const sums = {
  requests: sql<number>`coalesce(sum(${usageHourly.requests}), 0)`,
  prompt_tokens: sql<number>`coalesce(sum(${usageHourly.promptTokens}), 0)`,
  completion_tokens: sql<number>`coalesce(sum(${usageHourly.completionTokens}), 0)`,
  cost_micro_usd: costMicroUsdSum,
}
/** Tokens and their total; the cost as an exact decimal string of USD, summed from the rows' rounded costs (usage-cost.ts). */
const withTotal = <T extends { prompt_tokens: number; completion_tokens: number; cost_micro_usd: number }>({ cost_micro_usd, ...r }: T) => ({
  ...r,
  total_tokens: r.prompt_tokens + r.completion_tokens,
  cost_usd: costUsd(cost_micro_usd),
})

export async function tenantUsage(db: Db, tenantId: string, range: UsageRange) {
  const where = and(
    eq(usageHourly.tenantId, tenantId),
    range.from !== undefined ? gte(usageHourly.hourStart, range.from) : undefined,
    range.to !== undefined ? lt(usageHourly.hourStart, range.to) : undefined,
  )
  const [totals, byModel] = await db.batch([
    db.select(sums).from(usageHourly).where(where),
    db
      .select({ model: usageHourly.model, ...sums })
      .from(usageHourly)
      .where(where)
      .groupBy(usageHourly.model)
      .orderBy(usageHourly.model),
  ])
  const total = totals[0] ?? { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_micro_usd: 0 }
  return { object: 'usage', tenant_id: tenantId, from: range.from ?? null, to: range.to ?? null, ...withTotal(total), by_model: byModel.map(withTotal) }
}
