// Registering and removing nodes by hand (bring-your-own OpenAI-compatible servers). Launched nodes arrive
// through the orchestrator instead. Every change invalidates this isolate's routing snapshot.
import { desc, eq } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { nodeLaunches, nodes, type NodeRow } from '../../db/schema.ts'
import type { RegisterNode } from '../../schemas/admin.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import { newId, type Actor } from '../tenants/tenants.ts'
import { invalidateNodeDirectory } from './node-directory.ts'
import { seal } from './secret-box.ts'

export const nodeView = (n: NodeRow) => ({
  id: n.id, object: 'node', name: n.name, endpoint: n.endpoint, models: n.models, status: n.status,
  provider: n.provider, region: n.region, gpu: n.gpu, has_api_key: n.apiKeyCiphertext !== null,
  last_error: n.lastError, created_at: n.createdAt, updated_at: n.updatedAt,
})

export async function registerNode(db: Db, secretsKey: string, input: RegisterNode, by: Actor): Promise<NodeRow> {
  const id = newId('node')
  const row: NodeRow = {
    id, name: input.name ?? id.replace('_', '-'), endpoint: input.endpoint.replace(/\/+$/, ''), models: input.models,
    status: 'ready', provider: 'byo', region: null, gpu: null,
    apiKeyCiphertext: input.api_key ? await seal(secretsKey, input.api_key) : null,
    lastError: null, createdAt: Date.now(), updatedAt: null,
  }
  await db.batch([db.insert(nodes).values(row), auditStatement(db, { ...by, action: 'node.register', target: id, after: nodeView(row) })])
  invalidateNodeDirectory()
  return row
}

export const listNodeRows = (db: Db) => db.select().from(nodes).orderBy(desc(nodes.createdAt)).all()
export const getNodeRow = (db: Db, id: string) => db.select().from(nodes).where(eq(nodes.id, id)).get()

export async function removeNode(db: Db, node: NodeRow, by: Actor): Promise<void> {
  await db.batch([
    db.delete(nodeLaunches).where(eq(nodeLaunches.nodeId, node.id)),
    db.delete(nodes).where(eq(nodes.id, node.id)),
    auditStatement(db, { ...by, action: 'node.remove', target: node.id, before: nodeView(node) }),
  ])
  invalidateNodeDirectory()
}
