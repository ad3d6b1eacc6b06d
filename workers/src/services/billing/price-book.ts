// The price book: per model, versions of USD-per-million-token prices (integer micro-dollars) each in force from
// its effective_from until the next. Written by PUT /admin/models/:model/price (routes/admin/prices.ts) and the
// console's PUT /dashboard/api/prices/:model (routes/console/fleet-price-api.ts), both through setPrice; read
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
import { formatMicroUsd, type PutPrice } from '../../schemas/prices.ts'
import { parseTimestamp } from '../../schemas/timestamp-param.ts'
import { auditStatement } from '../audit/audit-entry.ts'

/** How long an isolate trusts its copy of a model's price versions. */
export const PRICE_CACHE_TTL_MS = 60_000
/** The earliest a new version may start: the cache TTL, plus room for clock skew between isolates and D1. */
export const PRICE_MIN_LEAD_MS = 5 * 60_000

/**
 * A version: admission's TokenPrice (input, output) and the cached-input price, which only billing uses (the
 * ledger's SQL, ledger-write.ts); null: cached prompt tokens cost the input price. Never above the input price, so
 * admission's hold (every prompt token at input) stays an upper bound of the bill.
 */
export type PriceVersion = TokenPrice & { cachedInputMicroUsdPerMTok: number | null; effectiveFrom: number }

/** A stored row as a version. */
const versionOf = (r: typeof modelPrices.$inferSelect): PriceVersion => ({
  effectiveFrom: r.effectiveFrom,
  inputMicroUsdPerMTok: r.inputMicroUsdPerMTok,
  outputMicroUsdPerMTok: r.outputMicroUsdPerMTok,
  cachedInputMicroUsdPerMTok: r.cachedInputMicroUsdPerMTok,
})

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
  const versions = rows.map(versionOf)
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

export type NewPrice = { model: string; input: number; output: number; cachedInput: number | null; effectiveFrom: number }

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
  if (price.cachedInput !== null && price.cachedInput > price.input) {
    throw new ApiError('invalid_request', 'cached_input must not be above input (admission holds prompt tokens at the input price).', {
      param: 'cached_input',
      code: 'cached_input_above_input',
    })
  }
  const row = {
    model: price.model,
    effectiveFrom: price.effectiveFrom,
    inputMicroUsdPerMTok: price.input,
    outputMicroUsdPerMTok: price.output,
    cachedInputMicroUsdPerMTok: price.cachedInput,
    createdAt: now,
  }
  await db.batch([
    db
      .insert(modelPrices)
      .values(row)
      .onConflictDoUpdate({
        target: [modelPrices.model, modelPrices.effectiveFrom],
        set: {
          inputMicroUsdPerMTok: row.inputMicroUsdPerMTok,
          outputMicroUsdPerMTok: row.outputMicroUsdPerMTok,
          cachedInputMicroUsdPerMTok: row.cachedInputMicroUsdPerMTok,
          createdAt: now,
        },
      }),
    auditStatement(db, { ...by, action: 'model.price.put', target: price.model, after: priceView(row) }),
  ])
  forgetPrices(price.model)
  return row
}

/** A model's versions, oldest first (the history, the one in force and those ahead). */
export async function listPrices(db: Db, model: string): Promise<PriceVersion[]> {
  const rows = await db.select().from(modelPrices).where(eq(modelPrices.model, model)).orderBy(asc(modelPrices.effectiveFrom)).all()
  return rows.map(versionOf)
}

export const priceView = (v: PriceVersion & { model?: string }) => ({
  object: 'model.price',
  ...(v.model === undefined ? {} : { model: v.model }),
  currency: 'usd',
  unit: 'per_million_tokens',
  input: formatMicroUsd(v.inputMicroUsdPerMTok),
  output: formatMicroUsd(v.outputMicroUsdPerMTok),
  /** null: cached prompt tokens cost the input price. */
  cached_input: v.cachedInputMicroUsdPerMTok === null ? null : formatMicroUsd(v.cachedInputMicroUsdPerMTok),
  effective_from: new Date(v.effectiveFrom).toISOString(),
})

/** The model id of a price path (decoded by Hono), checked: the same bounds as a request's `model`. */
export function checkedPriceModel(raw: string): string {
  if (raw.length === 0 || raw.length > 256) throw new ApiError('invalid_request', 'model must be 1 to 256 characters.', { param: 'model' })
  return raw
}

/** A PUT body applied: effective_from parsed (default: the earliest allowed), the version written and audited; its view. */
export async function setPrice(db: Db, model: string, input: PutPrice, by: { actor: string; requestId: string }, now = Date.now()) {
  let effectiveFrom = now + PRICE_MIN_LEAD_MS
  if (input.effective_from !== undefined) {
    const parsed = parseTimestamp(String(input.effective_from))
    if (parsed === null)
      throw new ApiError('invalid_request', 'effective_from must be an ISO 8601 time or Unix seconds/milliseconds.', { param: 'effective_from' })
    effectiveFrom = parsed
  }
  const version = await putPrice(db, { model, input: input.input, output: input.output ?? 0, cachedInput: input.cached_input ?? null, effectiveFrom }, now, by)
  return priceView({ ...version, model })
}

/** A model's price book as GET /admin/models/:model/price answers it: the version in force at `now` and every version. */
export function modelPricesView(model: string, versions: readonly PriceVersion[], now: number) {
  const current = versionAt(versions, now)
  return { object: 'list' as const, model, current: current && priceView(current), data: versions.map((v) => priceView(v)) }
}

/** Models with a price book read at once (one statement); models are few, this bounds the answer all the same. */
const MAX_PRICE_ROWS = 10_000

/** Every model's price book (models in order), for the console's price page. */
export async function listAllPrices(db: Db, now = Date.now()) {
  const rows = await db.select().from(modelPrices).orderBy(asc(modelPrices.model), asc(modelPrices.effectiveFrom)).limit(MAX_PRICE_ROWS).all()
  const byModel = new Map<string, PriceVersion[]>()
  for (const r of rows) {
    const versions = byModel.get(r.model) ?? []
    versions.push(versionOf(r))
    byModel.set(r.model, versions)
  }
  return { object: 'list' as const, data: [...byModel].map(([model, versions]) => modelPricesView(model, versions, now)) }
}
