// What the Worker may import from the location objects (durable-objects/admission-location): their names, where a
// request's location comes from, and which object issued a lease. A location object holds a slice of one tenant's
// limits near the Worker that calls it (one per tenant and location hint); the tenant's home TenantGate stays the
// authority. README.md there and durable-objects/tenant-gate/README.md "Slices" describe the model.

/** Cloudflare's Durable Object location hints (workers-types DurableObjectLocationHint; docs: durable-objects/reference/data-location). */
export const LOCATION_HINTS = ['wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'apac-ne', 'apac-se', 'oc', 'afr', 'me'] as const
export type LocationHint = (typeof LOCATION_HINTS)[number]
export const isLocationHint = (s: string): s is LocationHint => (LOCATION_HINTS as readonly string[]).includes(s)

/**
 * The location object of a tenant at one location hint: `loc:<tenant>:<hint>`, or `loc:<tenant>:<hint>:<shard>` for the
 * other objects of a location spread over several (workers/src/services/admission/location-shards.ts).
 */
export const locationName = (tenantId: string, hint: LocationHint, shard = 0) => (shard === 0 ? `loc:${tenantId}:${hint}` : `loc:${tenantId}:${hint}:${shard}`)

/** The location hint a location object's name carries (null when it carries none). */
export function hintOfLocationName(name: string): LocationHint | null {
  const parts = name.split(':')
  const last = parts.at(-1) ?? ''
  const hint = /^\d+$/.test(last) ? (parts.at(-2) ?? '') : last
  return isLocationHint(hint) ? hint : null
}

/** Leases given by a location object are `<location name>#<uuid>`; the home's are bare UUIDs. */
export function leaseIssuer(leaseId: string): string | null {
  const at = leaseId.indexOf('#')
  return at > 0 && leaseId.startsWith('loc:') ? leaseId.slice(0, at) : null
}

/** Middle East country codes served best by the `me` hint (the rest of Asia goes to `apac`). */
const MIDDLE_EAST = new Set(['AE', 'BH', 'IL', 'IQ', 'IR', 'JO', 'KW', 'LB', 'OM', 'PS', 'QA', 'SA', 'SY', 'TR', 'YE'])

/**
 * The location hint nearest to where Cloudflare received a request, from `request.cf` (continent, country, longitude);
 * null when cf says nothing (then the request is decided at the home object, as before slices).
 */
export function hintFromCf(cf: { continent?: string; country?: string; longitude?: string } | undefined): LocationHint | null {
  if (!cf?.continent) return null
  const longitude = Number(cf.longitude)
  switch (cf.continent) {
    case 'NA':
      return Number.isFinite(longitude) && longitude < -100 ? 'wnam' : 'enam'
    case 'SA':
      return 'sam'
    case 'EU':
      return Number.isFinite(longitude) && longitude > 20 ? 'eeur' : 'weur'
    case 'AS':
      return cf.country && MIDDLE_EAST.has(cf.country) ? 'me' : 'apac'
    case 'OC':
      return 'oc'
    case 'AF':
      return 'afr'
    default:
      return null
  }
}
