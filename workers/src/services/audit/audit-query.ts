// Reads the audit log for GET /admin/audit: newest first, filtered by time, actor and target, one page at a time.
import { and, desc, eq, gte, lt, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { auditLog } from '../../db/schema.ts'
import type { AuditQuery } from '../../schemas/audit-query.ts'

export type AuditView = {
  id: number
  object: 'audit_entry'
  at: number
  actor: string
  action: string
  target: string
  before: unknown
  after: unknown
  request_id: string | null
}

export async function queryAudit(db: Db, q: AuditQuery): Promise<{ object: 'list'; data: AuditView[]; has_more: boolean }> {
  const where: SQL[] = []
  if (q.from !== undefined) where.push(gte(auditLog.at, q.from))
  if (q.to !== undefined) where.push(lt(auditLog.at, q.to))
  if (q.actor !== undefined) where.push(eq(auditLog.actor, q.actor))
  if (q.target !== undefined) where.push(eq(auditLog.target, q.target))
  if (q.cursor !== undefined) where.push(lt(auditLog.id, q.cursor))
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1)
  const page = rows.slice(0, q.limit)
  return {
    object: 'list',
    data: page.map((r) => ({
      id: r.id,
      object: 'audit_entry',
      at: r.at,
      actor: r.actor,
      action: r.action,
      target: r.target,
      before: r.before,
      after: r.after,
      request_id: r.requestId,
    })),
    has_more: rows.length > q.limit,
  }
}
