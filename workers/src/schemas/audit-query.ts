// GET /admin/audit query: time range (ISO 8601, Unix seconds or ms; `to` exclusive), exact actor/target, and a
// keyset cursor.
import { z } from 'zod'
import { timestampParam } from './timestamp-param.ts'

export const auditQuerySchema = z
  .strictObject({
    from: timestampParam,
    to: timestampParam,
    actor: z.string().min(1).max(200).optional(),
    target: z.string().min(1).max(200).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    /** The `id` of the last entry of the previous page (entries come newest first). */
    cursor: z.coerce.number().int().positive().optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, { message: 'to must be after from', path: ['to'] })
export type AuditQuery = z.infer<typeof auditQuerySchema>
