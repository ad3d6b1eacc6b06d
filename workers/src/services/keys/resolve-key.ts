// Maps a presented API key to its tenant and key id. The mapping never changes once a key exists, so it is
// cached per isolate; revocation and suspension are decided by the tenant's admission object, never here.
import { eq } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { apiKeys } from '../../db/schema.ts'
import { hashApiKey } from './api-key.ts'

export type TenantIdentity = { tenantId: string; keyId: string; keyLimits: Record<string, number> }

const MAX_CACHED = 10_000
const cache = new Map<string, TenantIdentity>()

export async function resolveApiKey(db: Db, key: string): Promise<TenantIdentity | null> {
  const hash = await hashApiKey(key)
  const hit = cache.get(hash)
  if (hit) return hit
  const row = await db
    .select({ tenantId: apiKeys.tenantId, keyId: apiKeys.id, keyLimits: apiKeys.limits })
    .from(apiKeys)
    .where(eq(apiKeys.keyHash, hash))
    .get()
  if (!row) return null // unknown keys are not cached: a key created a moment later must work
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string)
  cache.set(hash, row)
  return row
}
