// Compare-and-set writes of a node's lifecycle status (`nodes.status`), each with its audit row in the same
// D1 batch. The audit row is inserted only if the change happened (`changes()` of the statement before it),
// so a lost race leaves neither. Used by the admin API and by the NodeMonitor.

/**
 * queued → launching → warming (registered, not yet healthy) → ready ⇄ failed → draining → gone (removed).
 * terminating / terminated belong to the launcher.
 */
export const NODE_STATUSES = ['queued', 'launching', 'warming', 'ready', 'draining', 'failed', 'terminating', 'terminated', 'gone'] as const
export type NodeStatus = (typeof NODE_STATUSES)[number]

export type StatusAudit = { actor: string; action: string; requestId: string | null; before: unknown; after: unknown }

const AUDIT_IF_CHANGED = `INSERT INTO audit_log (at, actor, action, target, before, after, request_id)
  SELECT ?, ?, ?, ?, ?, ?, ? WHERE changes() > 0`

const auditIfChanged = (db: D1Database, nodeId: string, audit: StatusAudit, now: number) =>
  db.prepare(AUDIT_IF_CHANGED).bind(now, audit.actor, audit.action, nodeId, JSON.stringify(audit.before), JSON.stringify(audit.after), audit.requestId)

/** Moves the node from `from` to `to`; false when its status was no longer `from`. `lastError` null keeps the old one. */
export async function casNodeStatus(
  db: D1Database,
  nodeId: string,
  change: { from: string; to: NodeStatus; lastError?: string | null },
  audit: StatusAudit,
  now: number,
): Promise<boolean> {
  const [update] = await db.batch([
    db
      .prepare('UPDATE nodes SET status = ?, last_error = coalesce(?, last_error), updated_at = ? WHERE id = ? AND status = ?')
      .bind(change.to, change.lastError ?? null, now, nodeId, change.from),
    auditIfChanged(db, nodeId, audit, now),
  ])
  return (update?.meta.changes ?? 0) > 0
}

/** Deletes the node's row if its status is still `from`: the node is gone from the fleet, the audit row keeps what it was. */
export async function deleteNodeIf(db: D1Database, nodeId: string, from: string, audit: StatusAudit, now: number): Promise<boolean> {
  const [remove] = await db.batch([
    db.prepare('DELETE FROM nodes WHERE id = ? AND status = ?').bind(nodeId, from),
    auditIfChanged(db, nodeId, audit, now),
    // A launched node's launch record goes with it (only if the node row is really gone).
    db.prepare('DELETE FROM node_launches WHERE node_id = ? AND NOT EXISTS (SELECT 1 FROM nodes WHERE id = ?)').bind(nodeId, nodeId),
  ])
  return (remove?.meta.changes ?? 0) > 0
}
