// Puts where the request's admission is decided on its identity (after apiKeyAuth): the location hint nearest the
// Cloudflare location that received it (request.cf) in staging and production; elsewhere only the `x-cic-location`
// header sets one (one machine simulating a tenant spread over the world), and without it admission stays at home.
import { createMiddleware } from 'hono/factory'
import { hintFromCf, isLocationHint, type LocationHint } from '../../../durable-objects/admission-location/contract.ts'
import { type AppEnv, isProductionLike } from '../env.ts'

export const LOCATION_HEADER = 'x-cic-location'

export const admissionLocation = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const location = locationOf(c.req.raw, isProductionLike(c.env))
    // A new object: the identity itself is cached per isolate and shared by every request of the key.
    if (location) c.set('identity', { ...c.get('identity'), location })
    await next()
  })

export function locationOf(request: Request, isProduction: boolean): LocationHint | null {
  if (isProduction) return hintFromCf(request.cf as { continent?: string; country?: string; longitude?: string } | undefined)
  const header = request.headers.get(LOCATION_HEADER)?.trim().toLowerCase() ?? ''
  return isLocationHint(header) ? header : defaultLocation
}

let defaultLocation: LocationHint | null = null

/**
 * Tests only (never in production, where request.cf decides): admit requests without the header at this location, so
 * a whole test file runs against the location objects (workers/test/admission/admission-at-location.test.ts).
 */
export function admitAtLocationByDefault(hint: LocationHint | null): void {
  defaultLocation = hint
}
