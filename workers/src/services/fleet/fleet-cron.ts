// The fleet cron (every minute): nudges each fleet's reconciler, the backstop of its own alarm (an alarm lost to a
// bug, or a fleet row written while its object was unreachable). Called by the Worker's scheduled handler.
import { nudgeFleet } from '../../../../durable-objects/fleet-reconciler/contract.ts'
import { log } from '../../log.ts'
import { fleetModels } from './fleet-store.ts'

export const FLEET_CRON = '* * * * *'

export async function nudgeAllFleets(env: Env): Promise<void> {
  const models = await fleetModels(env.DB)
  const results = await Promise.allSettled(models.map((model) => nudgeFleet(env, model, 'cron')))
  const failed = results.filter((r) => r.status === 'rejected').length
  if (failed > 0) log.error('fleet_cron_nudge_failed', { fleets: models.length, failed })
}
