// Builds audit rows. Callers put the returned statement in the same D1 batch() as the change it describes,
// so there is never a change without its audit row, or the reverse.
import type { Db } from '../../db/client.ts'
import { auditLog } from '../../db/schema.ts'

export type AuditEntry = { actor: string; action: string; target: string; before?: unknown; after?: unknown; requestId?: string }

export const auditStatement = (db: Db, entry: AuditEntry) =>
  db.insert(auditLog).values({
    at: Date.now(),
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    before: entry.before ?? null,
    after: entry.after ?? null,
    requestId: entry.requestId ?? null,
  })
