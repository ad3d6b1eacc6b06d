// Reads the usage ledger: totals and per-model rows for a tenant over a time range (ms since epoch).
import { and, eq, gte, lt, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { usageEvents } from '../../db/schema.ts'

export type UsageRange = { from?: number | undefined; to?: number | undefined }

const sums = {
  requests: sql<number>`count(*)`,
  prompt_tokens: sql<number>`coalesce(sum(${usageEvents.promptTokens}), 0)`,
  completion_tokens: sql<number>`coalesce(sum(${usageEvents.completionTokens}), 0)`,
}
const withTotal = <T extends { prompt_tokens: number; completion_tokens: number }>(r: T) => ({ ...r, total_tokens: r.prompt_tokens + r.completion_tokens })

export async function tenantUsage(db: Db, tenantId: string, range: UsageRange) {
  const where = and(
    eq(usageEvents.tenantId, tenantId),
    range.from !== undefined ? gte(usageEvents.createdAt, range.from) : undefined,
    range.to !== undefined ? lt(usageEvents.createdAt, range.to) : undefined,
  )
  const [totals, byModel] = await db.batch([
    db.select(sums).from(usageEvents).where(where),
    db.select({ model: usageEvents.model, ...sums }).from(usageEvents).where(where).groupBy(usageEvents.model).orderBy(usageEvents.model),
  ])
  const total = totals[0] ?? { requests: 0, prompt_tokens: 0, completion_tokens: 0 }
  return { object: 'usage', tenant_id: tenantId, from: range.from ?? null, to: range.to ?? null, ...withTotal(total), by_model: byModel.map(withTotal) }
}
