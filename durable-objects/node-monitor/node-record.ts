// The NodeMonitor's reads and writes of its node's D1 row. Writes are compare-and-set (node-status.ts): the
// monitor never overrides a status somebody else changed since it read it.
import { open } from '../../workers/src/db/secret-box.ts'
import { casNodeStatus, deleteNodeIf } from '../../workers/src/db/node-status.ts'

/** `launch`: set for a node CIC launched (its name is the cluster name), with the runner's attempt count. */
export type NodeRecord = {
  id: string
  name: string
  endpoint: string
  models: string[]
  status: string
  apiKey: string | null
  launch: { attempts: number } | null
}
type Row = { id: string; name: string; endpoint: string; models: string; status: string; api_key_ciphertext: string | null; attempts: number | null }

const ACTOR = 'node-monitor'

export async function readNodeRecord(db: D1Database, secretsKey: string, nodeId: string): Promise<NodeRecord | null> {
  const row = await db
    .prepare(`SELECT n.id, n.name, n.endpoint, n.models, n.status, n.api_key_ciphertext, l.attempts
    FROM nodes n LEFT JOIN node_launches l ON l.node_id = n.id WHERE n.id = ?`)
    .bind(nodeId)
    .first<Row>()
  if (!row) return null
  return {
    id: row.id,
    name: row.name,
    endpoint: row.endpoint.replace(/\/+$/, ''),
    models: JSON.parse(row.models) as string[],
    status: row.status,
    apiKey: row.api_key_ciphertext ? await open(secretsKey, row.api_key_ciphertext) : null,
    launch: row.attempts === null ? null : { attempts: row.attempts },
  }
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
