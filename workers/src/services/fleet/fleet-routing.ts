// What routing asks of fleets: whether a model with no ready node has a fleet bringing one up, and the Retry-After
// to give meanwhile (fleet-retry-after.ts). Called by services/proxy/select-node.ts and routes/v1/models.ts.
import { dependsOn } from '../../dependency.ts'
import { listFleets } from './fleet-directory.ts'
import { fleetRetryAfterSeconds } from './fleet-retry-after.ts'

type Ctx = { env: Env; waitUntil: (promise: Promise<unknown>) => void }

/** Seconds until the model's fleet should have a ready node; null when the model has no fleet. */
export async function fleetRetryAfter(ctx: Ctx, model: string): Promise<number | null> {
  const fleet = (await dependsOn('d1', () => listFleets(ctx.env.DB, ctx.waitUntil))).get(model)
  return fleet ? fleetRetryAfterSeconds(fleet, Date.now()) : null
}

/** The same, for an answer that is already a 503: a D1 failure here only loses the better Retry-After (null). */
export async function fleetRetryAfterIfKnown(ctx: Ctx, model: string): Promise<number | null> {
  try {
    const fleet = (await listFleets(ctx.env.DB, ctx.waitUntil)).get(model)
    return fleet ? fleetRetryAfterSeconds(fleet, Date.now()) : null
  } catch {
    return null
  }
}

/** Models that have a fleet: listed by /v1/models even while none of their nodes is ready. */
export async function fleetModelIds(ctx: Ctx): Promise<string[]> {
  return [...(await dependsOn('d1', () => listFleets(ctx.env.DB, ctx.waitUntil))).keys()]
}
