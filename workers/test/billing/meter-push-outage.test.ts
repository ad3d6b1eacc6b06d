// The meter push after a long cron outage, each run one invocation under the platform guard (as scheduled() runs
// it): a backlog of due tenant-hours larger than one invocation's D1 queries (1,000) is recorded oldest hours first
// over several runs, each within the limit, instead of one batch production would refuse every hour.
import { env } from 'cloudflare:workers'
import { expect, inject, it } from 'vitest'
import { guardInvocation } from '../../src/platform/guard.ts'
import { pushMeterUsage } from '../../src/services/billing/meter-push.ts'

const HOUR = 3_600_000
const MINUTE = 60_000
const stripeEnv = { ...env, STRIPE_API_BASE: inject('stripeStandin') }

const TENANTS = 200
const HOURS = 46 // within the push's 48 h lookback
/** What the old single batch would have written: 9,200 rows, 9 per statement, past D1's 1,000 queries. */
const DUE = TENANTS * HOURS

/**
 * 200 billed tenants with usage in each of 46 closed hours (their hourly rollup with its cost at $1/M, which the push reads), the newest
 * ending two hours before `now`.
 */
async function seedBacklog(now: number): Promise<number> {
  const newest = Math.floor(now / HOUR) * HOUR - 2 * HOUR
  const oldest = newest - (HOURS - 1) * HOUR
  await env.DB.prepare(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${TENANTS - 1})
    INSERT INTO tenants (id, name, stripe_customer_id, created_at) SELECT 'ten_outage_' || i, 'outage ' || i, 'cus_outage' || i, 0 FROM n`).run()
  await env.DB.prepare(`WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < ${TENANTS - 1}),
      h(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM h WHERE j < ${HOURS - 1})
    INSERT INTO usage_hourly (tenant_id, key_id, model, hour_start, prompt_tokens, completion_tokens, requests, errors,
      prompt_cost_pico_usd, completion_cost_pico_usd)
    SELECT 'ten_outage_' || i, 'key_t', 'cic-demo-llm', ${oldest} + j * ${HOUR}, 10 + j, 1, 1, 0, (10 + j) * 1000000, 1000000 FROM t, h`).run()
  return oldest
}

/** One run with the default D1 budget; one page of sends (20 events) keeps the test short, the plan is unchanged. */
const runCron = (scheduledTime: number) => guardInvocation(stripeEnv, () => pushMeterUsage(stripeEnv, scheduledTime, { sendMs: 0, d1Queries: 900 }))

/** Recorded rows per hour, oldest first, in hours since the oldest seeded one. */
async function rowsPerHour(oldest: number): Promise<[number, number][]> {
  const { results } = await env.DB.prepare(`SELECT hour_start, count(*) AS n FROM meter_pushes WHERE tenant_id LIKE 'ten_outage_%'
    GROUP BY hour_start ORDER BY hour_start`).all<{ hour_start: number; n: number }>()
  return results.map((r) => [(r.hour_start - oldest) / HOUR, r.n])
}

it("records a backlog past one invocation's D1 queries oldest hours first, over several runs within the limit", async () => {
  const now = Date.now()
  const oldest = await seedBacklog(now)
  const full = (hours: number) => Array.from({ length: hours }, (_, h): [number, number] => [h, TENANTS])
  const scheduledTime = Math.floor(now / HOUR) * HOUR + 5 * MINUTE

  // With every due hour in one batch this run was refused: 1,025 D1 queries in one invocation.
  expect(await runCron(scheduledTime)).toMatchObject({ planned: 2_700, deferred: DUE - 2_700, pages: 1 })
  // A run records at most 300 statements of 9 rows (a third of its 900-query budget): 2,700 rows, the 13 oldest
  // hours whole and the 14th for the first 100 tenants (by id).
  expect(await rowsPerHour(oldest)).toEqual([...full(13), [13, 100]])

  await runCron(scheduledTime)
  expect(await rowsPerHour(oldest)).toEqual([...full(27)])

  await runCron(scheduledTime)
  await runCron(scheduledTime)
  expect(await rowsPerHour(oldest)).toEqual(full(HOURS))
  const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM meter_pushes WHERE tenant_id LIKE 'ten_outage_%'").first<{ n: number }>())!
  expect(n).toBe(DUE) // each tenant-hour recorded once: 2,700 + 2,700 + 2,700 + 1,100
}, 120_000)
