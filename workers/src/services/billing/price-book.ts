// The price book: per model, versions of USD-per-million-token prices (integer micro-dollars) each in force from
// its effective_from until the next. Written by PUT /admin/models/:model/price (routes/admin/prices.ts), read
// on the request path through a per-isolate cache (priceAt, for admission's worst-case cost) and by the usage
// consumer in SQL (ledger-write.ts: the same rule, at each request's start). Why a version must start at least
// PRICE_MIN_LEAD_MS ahead: every isolate caches a model's versions for PRICE_CACHE_TTL_MS, so by the time a
// version applies every cache has read it, and admission and billing pick the same price for a request.
import { asc, eq } from 'drizzle-orm'
import type { TokenPrice } from '../../../../durable-objects/tenant-gate/contract.ts'
import type { Db } from '../../db/client.ts'
import { modelPrices } from '../../db/schema.ts'
import { dependencyUnavailable } from '../../dependency.ts'
import { ApiError } from '../../errors.ts'
import { formatMicroUsd } from '../../schemas/prices.ts'
import { auditStatement } from '../audit/audit-entry.ts'

/** How long an isolate trusts its copy of a model's price versions. */
export const PRICE_CACHE_TTL_MS = 60_000
/** The earliest a new version may start: the cache TTL, plus room for clock skew between isolates and D1. */
export const PRICE_MIN_LEAD_MS = 5 * 60_000

export type PriceVersion = TokenPrice & { effectiveFrom: number }

/** The version in force at `at`: the latest effective_from ≤ at (versions sorted by effective_from). */
export function versionAt(versions: readonly PriceVersion[], at: number): PriceVersion | null {
  let found: PriceVersion | null = null
  for (const v of versions) if (v.effectiveFrom <= at) found = v
  return found
}

const cache = new Map<string, { versions: PriceVersion[]; fetchedAt: number }>()
/** Isolate cache bound: models are few; past this the oldest entry goes. */
const CACHE_MAX_MODELS = 1_000

/** Every version of a model, oldest first, from the isolate's cache (one D1 read per model per TTL). */
export async function priceVersions(db: Db, model: string, now = Date.now()): Promise<PriceVersion[]> {
  const hit = cache.get(model)
  if (hit && now - hit.fetchedAt < PRICE_CACHE_TTL_MS) return hit.versions
  let rows: (typeof modelPrices.$inferSelect)[]
  try {
    rows = await db.select().from(modelPrices).where(eq(modelPrices.model, model)).orderBy(asc(modelPrices.effectiveFrom)).all()
  } catch (err) {
    // D1 unavailable: a copy younger than the minimum lead is still exact (a version written after it was read
    // starts at least PRICE_MIN_LEAD_MS after that read, so it is not in force yet). Otherwise 503 d1.
    if (hit && now - hit.fetchedAt < PRICE_MIN_LEAD_MS) return hit.versions
    throw dependencyUnavailable('d1', err)
  }
  const versions = rows.map((r) => ({
    effectiveFrom: r.effectiveFrom,
    inputMicroUsdPerMTok: r.inputMicroUsdPerMTok,
    outputMicroUsdPerMTok: r.outputMicroUsdPerMTok,
  }))
  if (cache.size >= CACHE_MAX_MODELS) cache.delete(cache.keys().next().value ?? '')
  cache.set(model, { versions, fetchedAt: now })
  return versions
}

/** Forgets the cached versions (tests; a PUT in this isolate, so its own next request sees the new version). */
export function forgetPrices(model?: string): void {
  if (model === undefined) cache.clear()
  else cache.delete(model)
}

/**
 * The price of `model` for a request starting at `at`. A model with no price in force is refused when
 * `requirePrice` (production-like environments): billing it at 0 would give it away, and a default price would
 * be a guess that is wrong for most models (an embedding model and a 70B model differ 100x). Elsewhere it is free.
 */
export async function priceAt(db: Db, model: string, at: number, requirePrice: boolean): Promise<TokenPrice | null> {
  const version = versionAt(await priceVersions(db, model, at), at)
  if (version || !requirePrice) return version && { inputMicroUsdPerMTok: version.inputMicroUsdPerMTok, outputMicroUsdPerMTok: version.outputMicroUsdPerMTok }
  throw new ApiError(
    'not_found',
    `The model '${model}' has no price set, so it cannot be billed. Ask the operator to set one (PUT /admin/models/:model/price).`,
    {
      code: 'model_not_priced',
      param: 'model',
    },
  )
}

export type NewPrice = { model: string; input: number; output: number; effectiveFrom: number }

/** Writes a version (replacing one at the same effective_from, which is still ahead) and its audit row, in one batch. */
export async function putPrice(db: Db, price: NewPrice, now: number, by: { actor: string; requestId: string }): Promise<PriceVersion> {
  if (price.effectiveFrom < now + PRICE_MIN_LEAD_MS) {
    throw new ApiError(
      'invalid_request',
      `effective_from must be at least ${PRICE_MIN_LEAD_MS / 60_000} minutes ahead (every isolate's price cache must see it first).`,
      {
        param: 'effective_from',
        code: 'effective_from_too_soon',
      },
    )
  }
  const row = { model: price.model, effectiveFrom: price.effectiveFrom, inputMicroUsdPerMTok: price.input, outputMicroUsdPerMTok: price.output, createdAt: now }
  await db.batch([
    db
      .insert(modelPrices)
      .values(row)
      .onConflictDoUpdate({
        target: [modelPrices.model, modelPrices.effectiveFrom],
        set: { inputMicroUsdPerMTok: row.inputMicroUsdPerMTok, outputMicroUsdPerMTok: row.outputMicroUsdPerMTok, createdAt: now },
      }),
    auditStatement(db, { ...by, action: 'model.price.put', target: price.model, after: priceView(row) }),
  ])
  forgetPrices(price.model)
  return row
}

/** A model's versions, oldest first (the history, the one in force and those ahead). */
export async function listPrices(db: Db, model: string): Promise<PriceVersion[]> {
  const rows = await db.select().from(modelPrices).where(eq(modelPrices.model, model)).orderBy(asc(modelPrices.effectiveFrom)).all()
  return rows.map((r) => ({ effectiveFrom: r.effectiveFrom, inputMicroUsdPerMTok: r.inputMicroUsdPerMTok, outputMicroUsdPerMTok: r.outputMicroUsdPerMTok }))
}

export const priceView = (v: PriceVersion & { model?: string }) => ({
  object: 'model.price',
  ...(v.model === undefined ? {} : { model: v.model }),
  currency: 'usd',
  unit: 'per_million_tokens',
  input: formatMicroUsd(v.inputMicroUsdPerMTok),
  output: formatMicroUsd(v.outputMicroUsdPerMTok),
  effective_from: new Date(v.effectiveFrom).toISOString(),
})
