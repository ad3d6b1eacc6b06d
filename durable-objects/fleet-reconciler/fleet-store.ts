// The FleetReconciler's D1 reads and writes. The launch claim is the safety net under the object's serialization:
// one D1 batch (a transaction) bumps the fleet's launch sequence by compare-and-set only while the fleet has fewer
// than max_nodes clusters not yet terminated, and inserts the node, its launch record and the audit row only if
// that bump happened (`changes()`). So no interleaving of reconciles, however they are scheduled, exceeds max_nodes,
// and the launch's cluster name is fixed by the sequence number it claimed (a retry or a redelivered message names
// the same cluster, which the runner launches once: orchestrator-runner/README.md "Idempotency").
import type { FleetPlacement } from '../../workers/src/schemas/fleet.ts'
import type { LaunchMessage, NodeLaunchSpec } from '../../workers/src/schemas/node-ops.ts'
import type { FleetNode, FleetSpec } from './fleet-plan.ts'

export type FleetRecord = FleetSpec & { model: string; launchSeq: number; createdAt: number; typicalReadyMs: number | null }

export const RECONCILER_ACTOR = 'reconciler'
export const fleetTarget = (model: string) => `fleet:${model}`

type FleetRow = {
  model: string
  min_ready: number
  max_nodes: number
  placements: string
  fallback_on_demand_after: number | null
  launch_seq: number
  typical_ready_ms: number | null
  created_at: number
}

export async function readFleet(db: D1Database, model: string): Promise<FleetRecord | null> {
  const row = await db.prepare('SELECT * FROM fleets WHERE model = ?').bind(model).first<FleetRow>()
  if (!row) return null
  return {
    model: row.model,
    minReady: row.min_ready,
    maxNodes: row.max_nodes,
    placements: JSON.parse(row.placements) as FleetPlacement[],
    fallbackOnDemandAfter: row.fallback_on_demand_after,
    launchSeq: row.launch_seq,
    createdAt: row.created_at,
    typicalReadyMs: row.typical_ready_ms,
  }
}

type NodeJoinRow = {
  id: string
  name: string
  status: string
  created_at: number
  updated_at: number | null
  last_error: string | null
  fleet_placement: number | null
  spec: string
  attempts: number
}

/** Every node this fleet launched that still has a row (terminated ones until forgotten). */
export async function readFleetNodes(db: D1Database, model: string): Promise<(FleetNode & { spec: NodeLaunchSpec })[]> {
  const { results } = await db
    .prepare(`SELECT n.id, n.name, n.status, n.created_at, n.updated_at, n.last_error, l.fleet_placement, l.spec, l.attempts
      FROM node_launches l JOIN nodes n ON n.id = l.node_id WHERE l.fleet_model = ? ORDER BY n.created_at`)
    .bind(model)
    .all<NodeJoinRow>()
  return results.map((r) => {
    const spec = JSON.parse(r.spec) as NodeLaunchSpec
    return {
      id: r.id,
      name: r.name,
      status: r.status,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      lastError: r.last_error,
      placement: r.fleet_placement,
      useSpot: spec.use_spot,
      attempts: r.attempts,
      spec,
    }
  })
}

async function shortHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return [...new Uint8Array(digest).slice(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * The cluster name and node id of a fleet's launch number `seq`: `cic-fl-<model hash>-<fleet generation>-<seq>`
 * (the generation is the fleet row's creation time, so a fleet deleted and created again never reuses a name).
 * Valid as a SkyPilot cluster name (schemas/node-ops.ts CLUSTER_NAME).
 */
export async function fleetLaunchIdentity(fleet: Pick<FleetRecord, 'model' | 'createdAt'>, seq: number): Promise<{ clusterName: string; nodeId: string }> {
  const hash = await shortHash(fleet.model)
  const generation = fleet.createdAt.toString(36)
  return { clusterName: `cic-fl-${hash}-${generation}-${seq}`, nodeId: `node_fl_${hash}_${generation}_${seq}` }
}

export type LaunchClaim = { claimed: true; message: LaunchMessage } | { claimed: false }

const NOT_TERMINATED = `(SELECT count(*) FROM node_launches l JOIN nodes n ON n.id = l.node_id
  WHERE l.fleet_model = ?1 AND n.status NOT IN ('terminated', 'gone'))`

/**
 * Claims launch number `launchSeq + 1` and writes its node (queued), launch record and audit row, all or none:
 * nothing is written when another reconcile claimed that number first, or when the fleet is at max_nodes.
 */
export async function claimLaunch(
  db: D1Database,
  fleet: FleetRecord,
  choice: { placement: number; useSpot: boolean; trigger: string },
  now: number,
): Promise<LaunchClaim> {
  const placement = fleet.placements[choice.placement]
  if (!placement) return { claimed: false }
  const seq = fleet.launchSeq + 1
  const { clusterName, nodeId } = await fleetLaunchIdentity(fleet, seq)
  const spec: NodeLaunchSpec = { ...placement, use_spot: choice.useSpot, model: fleet.model }
  const after = { cluster_name: clusterName, node_id: nodeId, placement: choice.placement, use_spot: choice.useSpot, trigger: choice.trigger }
  const [bump] = await db.batch([
    db
      .prepare(`UPDATE fleets SET launch_seq = ?3, updated_at = ?4 WHERE model = ?1 AND launch_seq = ?2 AND ${NOT_TERMINATED} < max_nodes`)
      .bind(fleet.model, fleet.launchSeq, seq, now),
    db
      .prepare(`INSERT INTO nodes (id, name, endpoint, models, status, provider, region, gpu, engine, created_at)
        SELECT ?, ?, '', ?, 'queued', ?, ?, ?, 'vllm', ? WHERE changes() > 0`)
      .bind(nodeId, clusterName, JSON.stringify([fleet.model]), spec.provider, spec.region ?? null, `${spec.gpu}:${spec.gpu_count}`, now),
    db
      .prepare(`INSERT INTO node_launches (cluster_name, node_id, spec, attempts, created_at, fleet_model, fleet_placement)
        SELECT ?, ?, ?, 0, ?, ?, ? WHERE changes() > 0`)
      .bind(clusterName, nodeId, JSON.stringify(spec), now, fleet.model, choice.placement),
    auditIfChanged(db, { action: 'fleet.launch', target: fleetTarget(fleet.model), after }, now),
  ])
  if ((bump?.meta.changes ?? 0) === 0) return { claimed: false }
  return { claimed: true, message: { op: 'launch', cluster_name: clusterName, node_id: nodeId, spec, requested_at: now } }
}

type Audit = { action: string; target: string; before?: unknown; after?: unknown }

const auditIfChanged = (db: D1Database, audit: Audit, now: number) =>
  db
    .prepare(`INSERT INTO audit_log (at, actor, action, target, before, after, request_id) SELECT ?, ?, ?, ?, ?, ?, NULL WHERE changes() > 0`)
    .bind(now, RECONCILER_ACTOR, audit.action, audit.target, JSON.stringify(audit.before ?? null), JSON.stringify(audit.after ?? null))

export async function writeAudit(db: D1Database, audit: Audit, now: number): Promise<void> {
  await db
    .prepare('INSERT INTO audit_log (at, actor, action, target, before, after, request_id) VALUES (?, ?, ?, ?, ?, ?, NULL)')
    .bind(now, RECONCILER_ACTOR, audit.action, audit.target, JSON.stringify(audit.before ?? null), JSON.stringify(audit.after ?? null))
    .run()
}

/** Deletes a terminated fleet node's row and launch record (the audit row keeps what it was); false if it changed meanwhile. */
export async function forgetNode(db: D1Database, model: string, node: FleetNode, now: number): Promise<boolean> {
  const [remove] = await db.batch([
    db.prepare("DELETE FROM nodes WHERE id = ? AND status = 'terminated'").bind(node.id),
    auditIfChanged(db, { action: 'fleet.forget', target: fleetTarget(model), before: { cluster_name: node.name, node_id: node.id, status: node.status } }, now),
    db.prepare('DELETE FROM node_launches WHERE node_id = ? AND NOT EXISTS (SELECT 1 FROM nodes WHERE id = ?)').bind(node.id, node.id),
  ])
  return (remove?.meta.changes ?? 0) > 0
}

export async function recordTypicalReadyMs(db: D1Database, model: string, typicalReadyMs: number): Promise<void> {
  await db.prepare('UPDATE fleets SET typical_ready_ms = ? WHERE model = ?').bind(typicalReadyMs, model).run()
}
