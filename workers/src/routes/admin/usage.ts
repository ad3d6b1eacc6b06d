// Admin: usage across tenants, and the reconciliation of the ledger against the nodes' own token counters.
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { adminUsageQuerySchema, reconcileQuerySchema } from '../../schemas/usage-query.ts'
import { reconcileUsage } from '../../services/usage/usage-reconcile.ts'
import { usageSummary } from '../../services/usage/usage-summary.ts'
import { readQuery } from '../read-query.ts'

export const adminUsage = new Hono<AppEnv>()
  .get('/usage', async (c) => {
    const query = readQuery(c, adminUsageQuerySchema)
    return c.json(await usageSummary(createDb(c.env.DB), { from: query.from, to: query.to, groupBy: query.group_by }))
  })
  .get('/usage/reconcile', async (c) => {
    const range = readQuery(c, reconcileQuerySchema)
    return c.json(await reconcileUsage(createDb(c.env.DB), range))
  })
