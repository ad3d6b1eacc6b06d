// The NodeMonitor's reads and writes of its node's D1 row. Writes are compare-and-set (node-status.ts): the
// monitor never overrides a status somebody else changed since it read it.
import { decodeNodeRow, type NodeConnection } from '../../workers/src/db/node-row.ts'
import { casNodeStatus, deleteNodeIf } from '../../workers/src/db/node-status.ts'

/** `launch`: set for a node CIC launched (its name is the cluster name), with the runner's attempt count. */
export type NodeRecord = NodeConnection & { launch: { attempts: number } | null }
type Row = {
  id: string
  name: string
  endpoint: string
  models: string
  status: string
  engine: NodeConnection['engine']
  api_key_ciphertext: string | null
  attempts: number | null
}

const ACTOR = 'node-monitor'

export async function readNodeRecord(db: D1Database, secretsKey: string, nodeId: string): Promise<NodeRecord | null> {
  const row = await db
    .prepare(`SELECT n.id, n.name, n.endpoint, n.models, n.status, n.engine, n.api_key_ciphertext, l.attempts
    FROM nodes n LEFT JOIN node_launches l ON l.node_id = n.id WHERE n.id = ?`)
    .bind(nodeId)
    .first<Row>()
  if (!row) return null
  const { api_key_ciphertext: apiKeyCiphertext, attempts, models, ...fields } = row
  const node = await decodeNodeRow({ ...fields, models: JSON.parse(models) as string[], apiKeyCiphertext }, secretsKey)
  return { ...node, launch: attempts === null ? null : { attempts } }
}

export function setNodeStatus(db: D1Database, node: NodeRecord, from: string, to: 'ready' | 'failed', reason: string, now: number): Promise<boolean> {
  return casNodeStatus(
    db,
    node.id,
    { from, to, lastError: to === 'failed' ? reason : null },
    { actor: ACTOR, action: `node.${to}`, requestId: null, before: { status: from }, after: { status: to, reason } },
    now,
  )
}

export function removeDrainedNode(db: D1Database, node: NodeRecord, reason: string, now: number): Promise<boolean> {
  const before = { status: 'draining', name: node.name, endpoint: node.endpoint, models: node.models }
  return deleteNodeIf(db, node.id, 'draining', { actor: ACTOR, action: 'node.gone', requestId: null, before, after: { status: 'gone', reason } }, now)
}
