// Test helper for the price book (issue 16): a model's price written straight into D1, in force from
// `effectiveFrom` (the API refuses versions that are not PRICE_MIN_LEAD_MS ahead; tests need them in force now).
import { env } from 'cloudflare:workers'
import { forgetPrices } from '../../src/services/billing/price-book.ts'

/**
 * USD per million tokens as integer micro-dollars: 1_000_000 = $1/M = one micro-dollar per token. `cachedInput`:
 * the cached-input price (null: cached prompt tokens cost the input price).
 */
export async function seedPrice(
  model: string,
  inputMicroUsdPerMTok: number,
  outputMicroUsdPerMTok: number,
  effectiveFrom = 0,
  cachedInputMicroUsdPerMTok: number | null = null,
): Promise<void> {
  await env.DB.prepare(
    `INSERT INTO model_prices (model, effective_from, input_micro_usd_per_mtok, output_micro_usd_per_mtok, cached_input_micro_usd_per_mtok, created_at)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (model, effective_from) DO UPDATE SET input_micro_usd_per_mtok = excluded.input_micro_usd_per_mtok,
       output_micro_usd_per_mtok = excluded.output_micro_usd_per_mtok,
       cached_input_micro_usd_per_mtok = excluded.cached_input_micro_usd_per_mtok`,
  )
    .bind(model, effectiveFrom, inputMicroUsdPerMTok, outputMicroUsdPerMTok, cachedInputMicroUsdPerMTok, Date.now())
    .run()
  forgetPrices(model)
}
