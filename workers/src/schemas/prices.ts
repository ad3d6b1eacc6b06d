// Money in the API: USD amounts as exact decimal strings ("0.60"), integers of micro-dollars inside (never a
// float). The price book's PUT body, and the budget_usd limit. Used by routes/admin/prices.ts, schemas/admin.ts
// and the usage views (formatMicroUsd).
import { z } from 'zod'

/** Micro-dollars per dollar: every stored amount is an integer of these. */
export const MICRO_PER_USD = 1_000_000

/**
 * A non-negative USD amount with at most 6 decimals (a micro-dollar) and at most 9 integer digits, so the
 * micro-dollar integer stays below 10^15 < 2^53 (D1 returns integers as JavaScript numbers).
 */
const USD_PATTERN = /^(\d{1,9})(?:\.(\d{1,6}))?$/

/** "1.5" → 1_500_000, exactly (string arithmetic, no float); null when not a valid amount. */
export function parseUsdToMicro(text: string): number | null {
  const m = USD_PATTERN.exec(text)
  if (!m) return null
  const [, whole = '0', fraction = ''] = m
  return Number(whole) * MICRO_PER_USD + Number(fraction.padEnd(6, '0'))
}

/** 1_500_000 → "1.500000": always six decimals, so strings compare and add up without surprise. */
export function formatMicroUsd(microUsd: number | bigint): string {
  const v = BigInt(microUsd)
  const sign = v < 0n ? '-' : ''
  const abs = v < 0n ? -v : v
  return `${sign}${abs / 1_000_000n}.${(abs % 1_000_000n).toString().padStart(6, '0')}`
}

/** A USD decimal string in the API, its micro-dollar integer after parsing. */
export const usdAmountSchema = z
  .string()
  .regex(USD_PATTERN, 'must be a decimal string of dollars with at most 6 decimals, such as "0.60"')
  .transform((text) => parseUsdToMicro(text) ?? 0)

/**
 * Highest price accepted, USD per million tokens: $1,000/M. It keeps tokens × price per usage row inside
 * SQLite's 64-bit integers (a row's pico-dollars overflow past $9.2 million, see services/usage/cost.ts).
 */
export const MAX_PRICE_MICRO_USD_PER_MTOK = 1_000 * MICRO_PER_USD

const priceAmount = usdAmountSchema.refine((v) => v <= MAX_PRICE_MICRO_USD_PER_MTOK, 'must be at most 1000 (USD per million tokens)')

/**
 * `PUT /admin/models/:model/price`: USD per million tokens. `output` is optional for embedding models (0).
 * `cached_input` (optional) prices the prompt tokens a node served from its prefix cache (vLLM's
 * usage.prompt_tokens_details.cached_tokens); absent, they cost `input`. It may not pass `input` (price-book.ts):
 * admission holds every prompt token at the input price, an upper bound only while cached ≤ input.
 * `effective_from` (ISO 8601 or Unix seconds/ms, see timestamp-param.ts) defaults to the earliest time allowed:
 * now + PRICE_MIN_LEAD_MS (the price book's isolate cache must see a version before it applies).
 */
export const putPriceSchema = z.strictObject({
  input: priceAmount,
  output: priceAmount.optional(),
  cached_input: priceAmount.optional(),
  effective_from: z.union([z.string(), z.number()]).optional(),
})
export type PutPrice = z.infer<typeof putPriceSchema>
