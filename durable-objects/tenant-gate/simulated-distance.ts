// The simulated distance between a location object and its tenant's home object (issue 19): outside production-like
// environments, ADMISSION_SIMULATED_RTT_MS (a var, settable in .dev.vars) delays every call between them by that
// much, so one machine shows what a tenant spread over the world sees. Production never reads it.

/** The delay to add to one location↔home call, 0 in staging and production. */
export function simulatedRttMs(env: { ENVIRONMENT?: string; ADMISSION_SIMULATED_RTT_MS?: string }): number {
  // Same rule as workers/src/env.ts isProductionLike (which a Durable Object may not import): unset is production.
  const isProductionLike = env.ENVIRONMENT === undefined || env.ENVIRONMENT === 'staging' || env.ENVIRONMENT === 'production'
  if (isProductionLike) return 0
  const ms = Number(env.ADMISSION_SIMULATED_RTT_MS ?? 0)
  return Number.isFinite(ms) && ms > 0 ? ms : 0
}

/** Waits the simulated round trip (resolves at once when there is none). */
export function simulatedDistance(env: { ENVIRONMENT?: string; ADMISSION_SIMULATED_RTT_MS?: string }): Promise<void> {
  const ms = simulatedRttMs(env)
  return ms === 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms))
}
