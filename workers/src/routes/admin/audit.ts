// Admin: GET /admin/audit?from=&to=&actor=&target=&limit=&cursor= reads the audit trail (newest first).
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { auditQuerySchema } from '../../schemas/audit-query.ts'
import { queryAudit } from '../../services/audit/audit-query.ts'
import { readQuery } from '../read-query.ts'

export const adminAudit = new Hono<AppEnv>().get('/audit', async (c) => c.json(await queryAudit(createDb(c.env.DB), readQuery(c, auditQuerySchema))))
