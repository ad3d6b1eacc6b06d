// The one rounding of money in the ledger: each usage_hourly row (tenant, key, model, UTC hour) holds its exact
// cost per direction in pico-dollars (tokens × micro-dollars per million tokens, ledger-write.ts); a row's
// micro-dollars are each direction rounded half up, once, and every view (GET /v1/usage, /admin/usage,
// /admin/tenants/:id/usage, the Stripe meter push) sums these same rounded figures, so they agree to the
// micro-dollar whatever they group by. Integer division in SQLite: no floating point anywhere.
import { sql } from 'drizzle-orm'
import { usageHourly } from '../../db/schema.ts'
import { formatMicroUsd } from '../../schemas/prices.ts'

/** Pico-dollars per micro-dollar. */
const PICO_PER_MICRO = 1_000_000

/** A row's cost in micro-dollars (SQL, integer): each direction rounded half up to the micro-dollar. */
export const rowCostMicroUsdSql = sql<number>`((${usageHourly.promptCostPicoUsd} + ${sql.raw(String(PICO_PER_MICRO / 2))}) / ${sql.raw(String(PICO_PER_MICRO))} + (${usageHourly.completionCostPicoUsd} + ${sql.raw(String(PICO_PER_MICRO / 2))}) / ${sql.raw(String(PICO_PER_MICRO))})`

/** The sum of rows' rounded costs, micro-dollars (0 over no rows). */
export const costMicroUsdSum = sql<number>`coalesce(sum(${rowCostMicroUsdSql}), 0)`

/** The usage views' money field: an exact decimal string of USD ("1.234567"). */
export const costUsd = (microUsd: number) => formatMicroUsd(microUsd)

/** Raw SQL form, for statements written without drizzle's column helpers (the meter push's GROUP BY). */
export const ROW_COST_MICRO_USD = `((u.prompt_cost_pico_usd + ${PICO_PER_MICRO / 2}) / ${PICO_PER_MICRO} + (u.completion_cost_pico_usd + ${PICO_PER_MICRO / 2}) / ${PICO_PER_MICRO})`
