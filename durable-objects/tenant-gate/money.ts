// Money arithmetic of admission, pure and exact (no floating point): a model's prices in integer micro-dollars
// per million tokens, a request's cost rounded UP to the micro-dollar per direction (so a budget hold is never
// below what the ledger later bills: it rounds each aggregate to nearest, see services/usage/usage-cost.ts), and the
// largest completion a sum of money still pays for. Used by admission-ledger.ts and, through contract.ts, by the
// gateway (the settle's cost). Products go through BigInt: tokens × price can pass 2^53.

/** USD per million tokens, as integer micro-dollars ("0.60" $/M = 600_000). Embeddings have output 0. */
export type TokenPrice = { inputMicroUsdPerMTok: number; outputMicroUsdPerMTok: number }

const PER_MILLION = 1_000_000n

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b

/**
 * ceil(prompt × input / 1e6) + ceil(completion × output / 1e6) micro-dollars; 0 without a price. Each direction
 * is rounded up on its own: the ledger rounds each (tenant, key, model, hour, direction) sum to nearest, and
 * round(Σx) ≤ ceil(Σx) ≤ Σ ceil(x), so what a budget commits is never less than what is billed for it.
 */
export function costCeilMicroUsd(promptTokens: number, completionTokens: number, price: TokenPrice | null | undefined): number {
  if (!price) return 0
  const input = ceilDiv(BigInt(promptTokens) * BigInt(price.inputMicroUsdPerMTok), PER_MILLION)
  const output = ceilDiv(BigInt(completionTokens) * BigInt(price.outputMicroUsdPerMTok), PER_MILLION)
  return Number(input + output)
}

/**
 * The most completion tokens that keep costCeilMicroUsd(prompt, completion) ≤ `microUsd`: -1 when even the
 * prompt alone costs more; Infinity when output is free. ceil(x / 1e6) ≤ m ⇔ x ≤ m × 1e6 for an integer m.
 */
export function completionAffordable(microUsd: number, promptTokens: number, price: TokenPrice | null | undefined): number {
  if (!price) return Number.POSITIVE_INFINITY
  const left = BigInt(Math.max(0, microUsd)) - ceilDiv(BigInt(promptTokens) * BigInt(price.inputMicroUsdPerMTok), PER_MILLION)
  if (left < 0n) return -1
  if (price.outputMicroUsdPerMTok === 0) return Number.POSITIVE_INFINITY
  const max = (left * PER_MILLION) / BigInt(price.outputMicroUsdPerMTok)
  return max > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(max)
}

/** A price is two safe non-negative integers (the gateway's price book guarantees it; the object re-checks). */
export const isTokenPrice = (p: TokenPrice | null | undefined): boolean =>
  p == null ||
  (Number.isSafeInteger(p.inputMicroUsdPerMTok) && p.inputMicroUsdPerMTok >= 0 && Number.isSafeInteger(p.outputMicroUsdPerMTok) && p.outputMicroUsdPerMTok >= 0)
