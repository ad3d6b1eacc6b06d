// D1 access for launched nodes: find a node by cluster name with its launch record, and move it through the
// lifecycle with compare-and-set updates, so concurrent writers (admin, runner, node, health promotion) never
// overwrite each other's newer status. Every change invalidates this isolate's routing snapshot.
import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { nodeLaunches, nodes, type NodeLaunchRow, type NodeRow } from '../../db/schema.ts'
import type { NodeStatus } from '../../schemas/node-ops.ts'
import { nextStatus, type LifecycleEvent } from './launch-lifecycle.ts'
import { invalidateNodeDirectory } from './node-directory.ts'

export type LaunchedNode = { node: NodeRow; launch: NodeLaunchRow | null }

export async function findNodeByName(db: Db, clusterName: string): Promise<LaunchedNode | null> {
  const row = await db.select().from(nodes).leftJoin(nodeLaunches, eq(nodeLaunches.nodeId, nodes.id)).where(eq(nodes.name, clusterName)).get()
  return row ? { node: row.nodes, launch: row.node_launches } : null
}

type NodeChanges = Partial<Pick<NodeRow, 'endpoint' | 'models' | 'lastError' | 'apiKeyCiphertext'>>
export type TransitionResult = { node: NodeRow; launch: NodeLaunchRow | null; applied: boolean; from: string }

const CAS_ATTEMPTS = 3

/**
 * Applies `event` to the node named `clusterName` if the lifecycle allows it from its current status.
 * Returns null when there is no such node; `applied: false` (with the unchanged node) when the event does not apply.
 */
export async function transitionNode(db: Db, clusterName: string, event: LifecycleEvent, changes: NodeChanges = {}): Promise<TransitionResult | null> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const found = await findNodeByName(db, clusterName)
    if (!found) return null
    const from = found.node.status
    const to = nextStatus(from, event)
    if (to === null) return { ...found, applied: false, from }
    const updatedAt = Date.now()
    const result = await db
      .update(nodes)
      .set({ ...changes, status: to, updatedAt })
      .where(and(eq(nodes.id, found.node.id), eq(nodes.status, from)))
      .run()
    if (result.meta.changes === 1) {
      invalidateNodeDirectory()
      return { node: { ...found.node, ...changes, status: to, updatedAt }, launch: found.launch, applied: true, from }
    }
    // Another writer changed the status between our read and write: decide again from the new status.
  }
  throw new Error(`node ${clusterName}: status kept changing during ${CAS_ATTEMPTS} compare-and-set attempts`)
}

/** Writes `changes` only while the node is still in `status` (e.g. secrets minted for the attempt in progress). */
export async function updateNodeIfStatus(db: Db, nodeId: string, status: NodeStatus, changes: NodeChanges): Promise<boolean> {
  const result = await db
    .update(nodes)
    .set({ ...changes, updatedAt: Date.now() })
    .where(and(eq(nodes.id, nodeId), eq(nodes.status, status)))
    .run()
  if (result.meta.changes === 1) invalidateNodeDirectory()
  return result.meta.changes === 1
}

export async function updateLaunch(
  db: Db,
  clusterName: string,
  changes: { registerTokenHash?: string | null; endpoint?: string | null; addAttempt?: boolean },
): Promise<void> {
  await db
    .update(nodeLaunches)
    .set({
      ...(changes.registerTokenHash !== undefined ? { registerTokenHash: changes.registerTokenHash } : {}),
      ...(changes.endpoint !== undefined ? { endpoint: changes.endpoint } : {}),
      ...(changes.addAttempt ? { attempts: sql`${nodeLaunches.attempts} + 1` } : {}),
      updatedAt: Date.now(),
    })
    .where(eq(nodeLaunches.clusterName, clusterName))
    .run()
}
