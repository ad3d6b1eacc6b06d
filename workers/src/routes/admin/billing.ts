// Admin: what was pushed to Stripe Billing Meters, and what is still pending or failing.
import { Hono } from 'hono'
import { z } from 'zod'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { listMeterPushes, meterPushView } from '../../services/billing/meter-push.ts'
import { readQuery } from '../read-query.ts'

export const meterPushQuerySchema = z.strictObject({
  tenant_id: z.string().min(1).max(64).optional(),
  status: z.enum(['pending', 'sent', 'failed', 'rejected']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
})

export const adminBilling = new Hono<AppEnv>().get('/billing/meter-pushes', async (c) => {
  const q = readQuery(c, meterPushQuerySchema)
  const rows = await listMeterPushes(createDb(c.env.DB), { tenantId: q.tenant_id, status: q.status, limit: q.limit })
  return c.json({ object: 'list', data: rows.map(meterPushView) })
})
