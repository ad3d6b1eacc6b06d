// Which of a tenant's location objects at one location this isolate uses. A tenant whose traffic at one location
// passes what one object decides is spread over several objects there (`loc:<tenant>:<hint>:<n>`): to the home each
// is one more location with its own slice (the proofs in durable-objects/tenant-gate/README.md "Slices" hold for any
// number of locations), so the location's ceiling is the shard count times one object's. An isolate keeps one draw
// for its life, so its admits and its settles meet in the same object (settles ride with admits, gate-channel.ts) and
// a lease's settle finds its issuer anyway (the lease id names it); a busy location's many isolates spread over every
// shard. Small tenants stay on one object: splitting a small limit only adds round trips to the home.

/**
 * A tenant's requests-per-minute limit per shard: one location object decides ~1,850 admit + settle a second here
 * (npm run bench:admission, 2026-12-05), so a location is spread past ~1,000 a second (60,000 rpm). A tenant without
 * an rpm limit is spread over the most shards (it is as large as its traffic).
 */
const RPM_PER_SHARD = 60_000
/** Tenants remembered per isolate (their rpm limit as the last admission showed it); past it the memory starts again. */
const MAX_TENANTS = 10_000

let isolateDraw: number | null = null
/** A tenant's rpm limit from its last admission (null: no rpm limit). */
const rpmOfTenant = new Map<string, number | null>()
let shardsOverride: number | null = null

/** The shard of `tenantId`'s location object this isolate uses: 0 until an admission has shown the tenant's limit. */
export function shardFor(tenantId: string, maxShards: number): number {
  const max = shardsOverride ?? maxShards
  if (max <= 1 || !rpmOfTenant.has(tenantId)) return 0
  const rpm = rpmOfTenant.get(tenantId) ?? null
  const shards = rpm === null ? max : Math.min(max, Math.max(1, Math.ceil(rpm / RPM_PER_SHARD)))
  isolateDraw ??= Math.random() // drawn in a request: Workers forbid random values in global scope
  return Math.min(shards - 1, Math.floor(isolateDraw * shards))
}

/** Remembers a tenant's rpm limit from an admission (its x-ratelimit-limit-requests; null when it has none). */
export function learnTenantRpm(tenantId: string, rpmLimit: number | null): void {
  if (rpmOfTenant.size >= MAX_TENANTS && !rpmOfTenant.has(tenantId)) rpmOfTenant.clear()
  rpmOfTenant.set(tenantId, rpmLimit)
}

/** Tests only: the shard count (null: the configured one) and this isolate's draw. */
export function setLocationShardsForTests(shards: number | null, draw: number | null = null): void {
  shardsOverride = shards
  isolateDraw = draw
  rpmOfTenant.clear()
}
