// Reads usage from the hourly rollup, grouped by hour, day (UTC), model, key or tenant. Used by GET /v1/usage
// (one tenant, always scoped to the caller's own tenant) and GET /admin/usage (all tenants).
// Rollup rows are whole hours: a row is in range when its hour starts in [from, to).
import { and, eq, gte, lt, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { usageHourly } from '../../db/schema.ts'
import type { UsageGroupBy } from '../../schemas/usage-query.ts'
import { costMicroUsdSum, costUsd } from './usage-cost.ts'

const DAY_MS = 86_400_000

export type UsageSummaryQuery = { tenantId?: string; from?: number | undefined; to?: number | undefined; groupBy: UsageGroupBy }

type Sums = { requests: number; errors: number; prompt_tokens: number; completion_tokens: number; cost_micro_usd: number }
const sums = {
  requests: sql<number>`coalesce(sum(${usageHourly.requests}), 0)`,
  errors: sql<number>`coalesce(sum(${usageHourly.errors}), 0)`,
  prompt_tokens: sql<number>`coalesce(sum(${usageHourly.promptTokens}), 0)`,
  completion_tokens: sql<number>`coalesce(sum(${usageHourly.completionTokens}), 0)`,
  cost_micro_usd: costMicroUsdSum,
}
/** Tokens and their total; the cost as an exact decimal string of USD, summed from the rows' rounded costs (usage-cost.ts). */
const withTotal = <T extends Sums>({ cost_micro_usd, ...r }: T) => ({
  ...r,
  total_tokens: r.prompt_tokens + r.completion_tokens,
  cost_usd: costUsd(cost_micro_usd),
})

/** The grouping column and the field it is reported as. */
const GROUPS: Record<UsageGroupBy, { field: 'start' | 'model' | 'key_id' | 'tenant_id'; expr: SQL<string | number> }> = {
  hour: { field: 'start', expr: sql<number>`${usageHourly.hourStart}` },
  day: { field: 'start', expr: sql<number>`${usageHourly.hourStart} - ${usageHourly.hourStart} % ${sql.raw(String(DAY_MS))}` },
  model: { field: 'model', expr: sql<string>`${usageHourly.model}` },
  key: { field: 'key_id', expr: sql<string>`${usageHourly.keyId}` },
  tenant: { field: 'tenant_id', expr: sql<string>`${usageHourly.tenantId}` },
}

export async function usageSummary(db: Db, query: UsageSummaryQuery) {
  const where = and(
    query.tenantId !== undefined ? eq(usageHourly.tenantId, query.tenantId) : undefined,
    query.from !== undefined ? gte(usageHourly.hourStart, query.from) : undefined,
    query.to !== undefined ? lt(usageHourly.hourStart, query.to) : undefined,
  )
  const group = GROUPS[query.groupBy]
  const [totals, rows] = await db.batch([
    db.select(sums).from(usageHourly).where(where),
    db
      .select({ group: group.expr, ...sums })
      .from(usageHourly)
      .where(where)
      .groupBy(group.expr)
      .orderBy(group.expr),
  ])
  return {
    object: 'usage' as const,
    ...(query.tenantId !== undefined ? { tenant_id: query.tenantId } : {}),
    from: query.from ?? null,
    to: query.to ?? null,
    group_by: query.groupBy,
    totals: withTotal(totals[0] ?? { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cost_micro_usd: 0 }),
    data: rows.map(({ group: value, ...r }) => ({ [group.field]: value, ...withTotal(r) })),
  }
}
