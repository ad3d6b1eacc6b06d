// The Worker's handle on the per-node NodeMonitor objects (`node:<id>`). startNodeMonitor is what any code
// that brings a node into the fleet calls (admin registration, the launcher once a node is warming).
import type { NodeSnapshot } from '../../../../durable-objects/node-monitor/contract.ts'

export type { NodeSnapshot }

export const monitorOf = (env: Env, nodeId: string) => env.NODE_MONITOR.getByName(`node:${nodeId}`)

/**
 * Starts health checks for a node whose row is in D1: one check now (a healthy warming node becomes ready
 * before this returns), then one every NODE_HEALTH_INTERVAL_MS. Safe to call again (restarts the schedule).
 */
export function startNodeMonitor(env: Env, nodeId: string): Promise<NodeSnapshot> {
  return monitorOf(env, nodeId).start(nodeId)
}

/** Snapshots of several nodes, in parallel (admin views; the router uses its cached copy instead). */
export async function nodeSnapshots(env: Env, nodeIds: string[]): Promise<Map<string, NodeSnapshot>> {
  const entries = await Promise.all(nodeIds.map(async (id) => [id, await monitorOf(env, id).snapshot(id)] as const))
  return new Map(entries)
}
