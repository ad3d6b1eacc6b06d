// Admin side of fleets: write the desired state (audited in the same D1 batch), read it back against what runs
// (the fleet's nodes by status, the reconciler's recent actions), list and delete. The reconciling itself is the
// FleetReconciler object's (durable-objects/fleet-reconciler/). Called by routes/admin/fleet.ts and the fleet cron.
import { desc, eq } from 'drizzle-orm'
import { fleetReconcilerName, type ReconcileReport } from '../../../../durable-objects/fleet-reconciler/contract.ts'
import type { Db } from '../../db/client.ts'
import { auditLog, fleets, nodeLaunches, nodes, type FleetRow } from '../../db/schema.ts'
import { ApiError } from '../../errors.ts'
import { log } from '../../log.ts'
import type { FleetDesired } from '../../schemas/fleet.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import type { Actor } from '../tenants/tenants.ts'
import { invalidateFleetDirectory } from './fleet-directory.ts'

export const fleetTarget = (model: string) => `fleet:${model}`
const RECENT_ACTIONS = 20

export async function fleetModels(d1: D1Database): Promise<string[]> {
  const { results } = await d1.prepare('SELECT model FROM fleets ORDER BY model').all<{ model: string }>()
  return results.map((r) => r.model)
}

const desiredOf = (row: FleetRow) => ({
  min_ready: row.minReady,
  max_nodes: row.maxNodes,
  placements: row.placements,
  fallback_on_demand_after: row.fallbackOnDemandAfter,
})

/** Creates or replaces the fleet's desired state; true when it was created. */
export async function putFleet(db: Db, model: string, desired: FleetDesired, by: Actor): Promise<boolean> {
  const before = await db.select().from(fleets).where(eq(fleets.model, model)).get()
  const now = Date.now()
  const values = {
    minReady: desired.min_ready,
    maxNodes: desired.max_nodes,
    placements: desired.placements,
    fallbackOnDemandAfter: desired.fallback_on_demand_after ?? null,
  }
  await db.batch([
    db
      .insert(fleets)
      .values({ model, ...values, createdAt: now })
      .onConflictDoUpdate({ target: fleets.model, set: { ...values, updatedAt: now } }),
    auditStatement(db, { ...by, action: 'fleet.put', target: fleetTarget(model), before: before ? desiredOf(before) : null, after: desired }),
  ])
  invalidateFleetDirectory()
  return !before
}

export async function deleteFleet(db: Db, model: string, by: Actor): Promise<void> {
  const before = await db.select().from(fleets).where(eq(fleets.model, model)).get()
  if (!before) throw fleetNotFound(model)
  await db.batch([
    db.delete(fleets).where(eq(fleets.model, model)),
    auditStatement(db, { ...by, action: 'fleet.delete', target: fleetTarget(model), before: desiredOf(before) }),
  ])
  invalidateFleetDirectory()
}

const fleetNotFound = (model: string) => new ApiError('not_found', `No fleet for model '${model}'.`, { code: 'fleet_not_found', param: 'model' })

const PENDING = new Set(['queued', 'launching', 'warming'])

export async function fleetView(db: Db, model: string) {
  const [rows, members, actions] = await db.batch([
    db.select().from(fleets).where(eq(fleets.model, model)),
    db
      .select({
        id: nodes.id,
        name: nodes.name,
        status: nodes.status,
        lastError: nodes.lastError,
        createdAt: nodes.createdAt,
        updatedAt: nodes.updatedAt,
        placement: nodeLaunches.fleetPlacement,
        spec: nodeLaunches.spec,
      })
      .from(nodeLaunches)
      .innerJoin(nodes, eq(nodes.id, nodeLaunches.nodeId))
      .where(eq(nodeLaunches.fleetModel, model))
      .orderBy(nodes.createdAt),
    db
      .select()
      .from(auditLog)
      .where(eq(auditLog.target, fleetTarget(model)))
      .orderBy(desc(auditLog.id))
      .limit(RECENT_ACTIONS),
  ])
  const row = rows[0]
  if (!row) throw fleetNotFound(model)
  const count = (pred: (status: string) => boolean) => members.filter((m) => pred(m.status)).length
  return {
    object: 'fleet',
    model,
    desired: desiredOf(row),
    actual: {
      ready: count((s) => s === 'ready'),
      launching: count((s) => PENDING.has(s)),
      draining: count((s) => s === 'draining'),
      terminating: count((s) => s === 'terminating'),
      failed: count((s) => s === 'failed'),
      /** Clusters not yet terminated: what max_nodes bounds. */
      live: count((s) => s !== 'terminated'),
      nodes: members.map((m) => ({
        cluster_name: m.name,
        node_id: m.id,
        status: m.status,
        placement: m.placement,
        use_spot: m.spec.use_spot,
        provider: m.spec.provider,
        last_error: m.lastError,
        created_at: m.createdAt,
        updated_at: m.updatedAt,
      })),
    },
    typical_ready_seconds: row.typicalReadyMs === null ? null : Math.round(row.typicalReadyMs / 1000),
    recent_actions: actions.map((a) => ({ at: a.at, actor: a.actor, action: a.action, before: a.before, after: a.after })),
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  }
}

export async function listFleetViews(db: Db) {
  const models = await db.select({ model: fleets.model }).from(fleets).orderBy(fleets.model)
  // Fleets are few (one per served model); each view is one D1 batch.
  const data = await Promise.all(models.map(({ model }) => fleetView(db, model)))
  return { object: 'list', data }
}

/** Runs the fleet's reconcile now (the admin sees its first launches in the answer); a failure is left to the alarm and the cron. */
export async function reconcileNow(env: Env, model: string): Promise<ReconcileReport | null> {
  try {
    return await env.FLEET_RECONCILER.getByName(fleetReconcilerName(model)).reconcile(model, 'admin')
  } catch (err) {
    log.error('fleet_reconcile_failed', { model, error: String(err) })
    return null
  }
}

export async function stopReconciler(env: Env, model: string): Promise<void> {
  try {
    await env.FLEET_RECONCILER.getByName(fleetReconcilerName(model)).stop()
  } catch (err) {
    // Harmless: its next alarm finds no fleet row and stops by itself.
    log.warn('fleet_reconciler_stop_failed', { model, error: String(err) })
  }
}
