// Registering, draining, resuming and removing nodes by hand (bring-your-own OpenAI-compatible servers).
// A registered node starts as `warming`; its NodeMonitor promotes it to `ready` once /health passes (the
// first check runs during registration). Every change invalidates this isolate's routing snapshot.
import { desc, eq } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { nodes, type NodeRow } from '../../db/schema.ts'
import { loadConfig } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { log } from '../../log.ts'
import type { RegisterNode, UpdateNode } from '../../schemas/admin.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import { newId, type Actor } from '../tenants/tenants.ts'
import { invalidateNodeDirectory } from './node-directory.ts'
import { monitorOf, startNodeMonitor } from './node-monitor-client.ts'
import { casNodeStatus, deleteNodeIf, type NodeStatus } from '../../db/node-status.ts'
import { nodeView } from './node-views.ts'
import { seal } from '../../db/secret-box.ts'

export { nodeView }

export const listNodeRows = (db: Db) => db.select().from(nodes).orderBy(desc(nodes.createdAt)).all()
export const getNodeRow = (db: Db, id: string) => db.select().from(nodes).where(eq(nodes.id, id)).get()

const breakerPatch = (b: NonNullable<RegisterNode['breaker']>) => ({
  ...(b.failure_threshold !== undefined && { failureThreshold: b.failure_threshold }),
  ...(b.cooldown_ms !== undefined && { cooldownMs: b.cooldown_ms }),
  ...(b.half_open_probes !== undefined && { halfOpenProbes: b.half_open_probes }),
})

async function reread(db: Db, id: string): Promise<NodeRow> {
  const row = await getNodeRow(db, id)
  if (!row) throw new ApiError('not_found', `No node with id '${id}'.`, { code: 'node_not_found', param: 'id' })
  return row
}

const nameTaken = (name: string) =>
  new ApiError('conflict', `A node named '${name}' exists already; choose another name.`, { code: 'node_name_taken', param: 'name' })

// D1 reports a unique index violation as "UNIQUE constraint failed: nodes.name" (SQLite's wording).
const isNameConflict = (err: unknown) =>
  /UNIQUE constraint failed: nodes\.name/.test(String(err instanceof Error ? `${err.message} ${String(err.cause)}` : err))

export async function registerNode(env: Env, db: Db, input: RegisterNode, by: Actor): Promise<NodeRow> {
  const id = newId('node')
  const name = input.name ?? id.replace('_', '-')
  if (await db.select({ id: nodes.id }).from(nodes).where(eq(nodes.name, name)).get()) throw nameTaken(name)
  const row: NodeRow = {
    id,
    name,
    endpoint: input.endpoint,
    models: input.models,
    status: 'warming',
    provider: 'byo',
    region: null,
    gpu: null,
    engine: input.engine ?? 'vllm',
    apiKeyCiphertext: input.api_key ? await seal(loadConfig(env).SECRETS_KEY, input.api_key) : null,
    lastError: null,
    createdAt: Date.now(),
    updatedAt: null,
  }
  try {
    await db.batch([db.insert(nodes).values(row), auditStatement(db, { ...by, action: 'node.register', target: id, after: nodeView(row) })])
  } catch (err) {
    if (isNameConflict(err)) throw nameTaken(name) // registered by a concurrent request since the check above
    throw err
  }
  try {
    if (input.breaker) await monitorOf(env, id).configureBreaker(breakerPatch(input.breaker))
    await startNodeMonitor(env, id)
  } catch (err) {
    // The node is registered either way; it stays warming until a later check (any read of it restarts one).
    log.error('node_monitor_start_failed', { nodeId: id, error: String(err) })
  }
  invalidateNodeDirectory()
  return reread(db, id)
}

export async function updateNode(env: Env, db: Db, row: NodeRow, input: UpdateNode, by: Actor): Promise<void> {
  if (!input.breaker) return
  const monitor = monitorOf(env, row.id)
  const before = (await monitor.snapshot(row.id)).breakerConfig
  const after = (await monitor.configureBreaker(breakerPatch(input.breaker))).breakerConfig
  await auditStatement(db, { ...by, action: 'node.update', target: row.id, before: { breaker: before }, after: { breaker: after } }).run()
}

const conflict = (row: NodeRow, action: string) =>
  new ApiError('conflict', `Node '${row.id}' is ${row.status}: it cannot be ${action}.`, { code: 'invalid_node_state' })

async function moveStatus(db: Db, row: NodeRow, to: NodeStatus, action: string, by: Actor): Promise<void> {
  const moved = await casNodeStatus(
    db.$client,
    row.id,
    { from: row.status, to },
    { actor: by.actor, action, requestId: by.requestId, before: { status: row.status }, after: { status: to } },
    Date.now(),
  )
  if (!moved) throw new ApiError('conflict', `Node '${row.id}' changed status meanwhile; read it again and retry.`, { code: 'node_status_changed' })
}

const DRAINABLE: ReadonlySet<string> = new Set(['launching', 'warming', 'ready', 'failed', 'draining'])

/** No new requests go to a draining node; those in flight finish. Idempotent. */
export async function drainNode(db: Db, row: NodeRow, by: Actor): Promise<NodeRow> {
  if (!DRAINABLE.has(row.status)) throw conflict(row, 'drained')
  if (row.status !== 'draining') await moveStatus(db, row, 'draining', 'node.drain', by)
  invalidateNodeDirectory()
  return reread(db, row.id)
}

const RESUMABLE: ReadonlySet<string> = new Set(['draining', 'failed', 'warming'])

/**
 * Puts a drained or failed node back into service (or re-checks a warming one now): warming, and ready as
 * soon as its health check passes, which runs before this returns. A pending removal is cancelled.
 */
export async function resumeNode(env: Env, db: Db, row: NodeRow, by: Actor): Promise<NodeRow> {
  if (row.status === 'ready') return row
  if (!RESUMABLE.has(row.status)) throw conflict(row, 'resumed')
  if (row.status !== 'warming') await moveStatus(db, row, 'warming', 'node.resume', by)
  await monitorOf(env, row.id).resume(row.id)
  invalidateNodeDirectory()
  return reread(db, row.id)
}

/** Statuses in which no request can be running on the node: removal needs no drain. */
const REMOVABLE_AT_ONCE: ReadonlySet<string> = new Set(['queued', 'terminating', 'terminated', 'gone'])

/**
 * Drains the node, then removes it once nothing runs on it any more (its monitor decides, now or at a later
 * check). Returns whether it is already gone.
 */
export async function removeNode(env: Env, db: Db, row: NodeRow, by: Actor): Promise<{ removed: boolean }> {
  const audit = { actor: by.actor, requestId: by.requestId }
  if (REMOVABLE_AT_ONCE.has(row.status)) {
    const removed = await deleteNodeIf(
      db.$client,
      row.id,
      row.status,
      { ...audit, action: 'node.remove', before: nodeView(row), after: { status: 'gone' } },
      Date.now(),
    )
    if (!removed) throw new ApiError('conflict', `Node '${row.id}' changed status meanwhile; read it again and retry.`, { code: 'node_status_changed' })
    invalidateNodeDirectory()
    return { removed: true }
  }
  if (row.status !== 'draining') await moveStatus(db, row, 'draining', 'node.remove_requested', by)
  invalidateNodeDirectory()
  return { removed: (await monitorOf(env, row.id).requestRemoval(row.id)).removed }
}
