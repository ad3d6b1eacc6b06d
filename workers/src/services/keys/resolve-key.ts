// Maps a presented API key's hash to its tenant and key id. The mapping never changes once a key exists, so it is
// cached per isolate; revocation and suspension are decided by the tenant's admission object, never here. The
// cache is read first and apart (cachedApiKey), so the caller can refuse a throttled client before the D1 lookup.
import type { LocationHint } from '../../../../durable-objects/admission-location/contract.ts'
import { eq } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { apiKeys } from '../../db/schema.ts'

export type TenantIdentity = {
  tenantId: string
  keyId: string
  keyLimits: Record<string, number>
  /** Where admission is decided near the client (middleware/admission-location.ts); absent: at the tenant's home. */
  location?: LocationHint | null
}

const MAX_CACHED = 10_000
const cache = new Map<string, TenantIdentity>()

/** The identity of a key hash this isolate has already looked up (no I/O). */
export const cachedApiKey = (hash: string): TenantIdentity | undefined => cache.get(hash)

/** One D1 read; a found key is cached. */
export async function lookUpApiKey(db: Db, hash: string): Promise<TenantIdentity | null> {
  const row = await db.select({ tenantId: apiKeys.tenantId, keyId: apiKeys.id, keyLimits: apiKeys.limits }).from(apiKeys).where(eq(apiKeys.keyHash, hash)).get()
  if (!row) return null // unknown keys are not cached: a key created a moment later must work
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string)
  cache.set(hash, row)
  return row
}
