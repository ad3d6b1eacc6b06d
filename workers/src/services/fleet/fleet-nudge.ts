// Tells a fleet's reconciler that one of its nodes changed (the runner reported it failed or terminated), so the
// fleet acts now rather than at its next alarm. Best effort: the alarm and the cron catch up. Called in waitUntil.
import { nudgeFleet } from '../../../../durable-objects/fleet-reconciler/contract.ts'
import { log } from '../../log.ts'

export async function nudgeFleetOfCluster(env: Env, clusterName: string): Promise<void> {
  try {
    const row = await env.DB.prepare('SELECT fleet_model FROM node_launches WHERE cluster_name = ?').bind(clusterName).first<{ fleet_model: string | null }>()
    if (row?.fleet_model) await nudgeFleet(env, row.fleet_model, 'node_terminated')
  } catch (err) {
    log.warn('fleet_nudge_failed', { clusterName, error: String(err) })
  }
}
