// GET /v1/usage: the calling tenant's own usage from the hourly rollup, grouped by hour, day, model or key.
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { tenantUsageQuerySchema } from '../../schemas/usage-query.ts'
import { admitRequest } from '../../services/admission/admit-request.ts'
import { usageSummary } from '../../services/usage/usage-summary.ts'
import { readQuery } from '../read-query.ts'

export const usage = new Hono<AppEnv>().get('/usage', async (c) => {
  const query = readQuery(c, tenantUsageQuerySchema)
  await admitRequest(c.env, c.get('identity'), { waitUntil: (p) => c.executionCtx.waitUntil(p) }) // a revoked key or suspended tenant is refused here as everywhere
  // The tenant comes from the key, never from the request: a tenant can only ever read its own rows.
  return c.json(await usageSummary(createDb(c.env.DB), { tenantId: c.get('identity').tenantId, from: query.from, to: query.to, groupBy: query.group_by }))
})
