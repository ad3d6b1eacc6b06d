// A tenant's usage for the console's chart and CSV: hourly rollups (whole UTC hours) in [start, end), bucketed by
// hour or by local day in the viewer's time zone, optionally split by model or key. Reads usage_hourly only.
// Money: each row's cost is the rollup's rounded micro-dollars (usage-cost.ts, the same figure /v1/usage sums),
// added up here as integers and shown as an exact decimal string; never a float.
import { and, eq, gte, lt, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { usageHourly } from '../../db/schema.ts'
import { ApiError } from '../../errors.ts'
import { type ConsoleUsageQuery, USAGE_MAX_RANGE_MS } from '../../schemas/console.ts'
import { costMicroUsdSum, costUsd } from '../usage/usage-cost.ts'

const HOUR_MS = 3_600_000
/** Rows one query may read (hours x groups); beyond it the caller narrows the range or drops the split. */
const MAX_ROWS = 20_000

type Counters = { requests: number; prompt_tokens: number; completion_tokens: number; total_tokens: number; cost_micro_usd: number }
export type UsagePoint = Omit<Counters, 'cost_micro_usd'> & { cost_usd: string; bucket_start: string; group?: string }

const zero = (): Counters => ({ requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost_micro_usd: 0 })

/** The answer's form of counters: micro-dollars as an exact USD decimal string. */
const withCost = ({ cost_micro_usd, ...c }: Counters) => ({ ...c, cost_usd: costUsd(cost_micro_usd) })

/** The UTC offset (ms) of `tz` at `at`, from Intl's "GMT+05:30" form. */
function offsetMs(tz: string, at: number): number {
  const name =
    new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' }).formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT'
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name)
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000 : 0
}

/** Start (UTC instant) of the local day in `tz` containing `at`. */
export function localDayStart(tz: string, at: number): number {
  const local = at + offsetMs(tz, at)
  const midnightLocal = local - (((local % 86_400_000) + 86_400_000) % 86_400_000)
  // The offset at midnight itself (a DST change during the day moves it).
  return midnightLocal - offsetMs(tz, midnightLocal - offsetMs(tz, at))
}

export async function usageSeries(db: Db, tenantId: string, q: ConsoleUsageQuery, now = Date.now()) {
  const end = q.end ?? Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS
  const start = q.start ?? end - 24 * HOUR_MS
  if (end - start > USAGE_MAX_RANGE_MS) throw new ApiError('invalid_request', 'The range may span at most 93 days.', { code: 'range_too_long', param: 'start' })
  const group = q.group_by === 'model' ? sql<string>`${usageHourly.model}` : q.group_by === 'key' ? sql<string>`${usageHourly.keyId}` : sql<string>`''`
  const rows = await db
    .select({
      hour: usageHourly.hourStart,
      group,
      requests: sql<number>`sum(${usageHourly.requests})`,
      prompt_tokens: sql<number>`sum(${usageHourly.promptTokens})`,
      completion_tokens: sql<number>`sum(${usageHourly.completionTokens})`,
      cost_micro_usd: costMicroUsdSum,
    })
    .from(usageHourly)
    .where(and(eq(usageHourly.tenantId, tenantId), gte(usageHourly.hourStart, start), lt(usageHourly.hourStart, end)))
    .groupBy(usageHourly.hourStart, group)
    .orderBy(usageHourly.hourStart, group)
    .limit(MAX_ROWS + 1)
    .all()
  if (rows.length > MAX_ROWS)
    throw new ApiError('invalid_request', 'Too much usage data for one answer: narrow the range or drop group_by.', { code: 'too_many_rows', param: 'start' })
  const totals = zero()
  const buckets = new Map<string, Counters & { bucket_start: string; group?: string }>()
  for (const r of rows) {
    const bucket = q.granularity === 'day' ? localDayStart(q.tz, r.hour) : r.hour
    const key = `${bucket}\n${r.group}`
    let point = buckets.get(key)
    if (!point) {
      point = { bucket_start: new Date(bucket).toISOString(), ...(q.group_by ? { group: r.group } : {}), ...zero() }
      buckets.set(key, point)
    }
    for (const target of [point, totals]) {
      target.requests += r.requests
      target.prompt_tokens += r.prompt_tokens
      target.completion_tokens += r.completion_tokens
      target.total_tokens += r.prompt_tokens + r.completion_tokens
      target.cost_micro_usd += r.cost_micro_usd // integers below 2^53 (prices ≤ $1,000/M, schemas/prices.ts): exact
    }
  }
  const series: UsagePoint[] = [...buckets.values()].map(({ bucket_start, group, ...c }) => ({
    bucket_start,
    ...(group === undefined ? {} : { group }),
    ...withCost(c),
  }))
  return { start, end, granularity: q.granularity, tz: q.tz, group_by: q.group_by ?? null, totals: withCost(totals), series }
}

/** One CSV field: quoted, and a leading = + - @ defused so a spreadsheet does not run it as a formula. */
const csvField = (value: string | number) => {
  const text = String(value)
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text
  return `"${safe.replace(/"/g, '""')}"`
}

export function usageCsv(series: UsagePoint[]): string {
  const header = 'bucket_start,group,requests,prompt_tokens,completion_tokens,total_tokens,cost_usd'
  const lines = series.map((p) =>
    [p.bucket_start, p.group ?? '', p.requests, p.prompt_tokens, p.completion_tokens, p.total_tokens, p.cost_usd].map(csvField).join(','),
  )
  return `${[header, ...lines].join('\r\n')}\r\n`
}
