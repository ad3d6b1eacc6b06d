// Admin: usage across tenants, the reconciliation of the ledger against the nodes' own token counters, and the
// usage events the queue dead-lettered (listed, and replayed into the ledger).
import { Hono } from 'hono'
import { z } from 'zod'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { adminUsageQuerySchema, reconcileQuerySchema } from '../../schemas/usage-query.ts'
import { deadLetterView, discardDeadLetters, listDeadLetters, replayDeadLetters } from '../../services/usage/usage-dead-letters.ts'
import { reconcileUsage } from '../../services/usage/usage-reconcile.ts'
import { usageSummary } from '../../services/usage/usage-summary.ts'
import { readJsonBody } from '../read-body.ts'
import { readQuery } from '../read-query.ts'

export const deadLetterQuerySchema = z.strictObject({
  status: z.enum(['pending', 'replayed', 'discarded']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
})

/** At most 100 rows per call: one ledger write (the ids are bound as one JSON parameter, see usage-dead-letters.ts). */
export const replaySchema = z.strictObject({
  ids: z.array(z.string().min(1).max(300)).min(1).max(100).optional(),
  limit: z.number().int().min(1).max(100).default(100),
})

export const discardSchema = z.strictObject({ ids: z.array(z.string().min(1).max(300)).min(1).max(100) })

export const adminUsage = new Hono<AppEnv>()
  .get('/usage', async (c) => {
    const query = readQuery(c, adminUsageQuerySchema)
    return c.json(await usageSummary(createDb(c.env.DB), { from: query.from, to: query.to, groupBy: query.group_by }))
  })
  .get('/usage/reconcile', async (c) => {
    const range = readQuery(c, reconcileQuerySchema)
    return c.json(await reconcileUsage(createDb(c.env.DB), range))
  })
  .get('/usage/dead-letters', async (c) => {
    const q = readQuery(c, deadLetterQuerySchema)
    const rows = await listDeadLetters(createDb(c.env.DB), { status: q.status, limit: q.limit })
    return c.json({ object: 'list', data: rows.map(deadLetterView) })
  })
  .post('/usage/dead-letters/replay', async (c) => {
    const body = await readJsonBody(c, replaySchema)
    return c.json(await replayDeadLetters(c.env, body, { actor: 'admin', requestId: c.get('requestId') }))
  })
  .post('/usage/dead-letters/discard', async (c) => {
    const body = await readJsonBody(c, discardSchema)
    return c.json(await discardDeadLetters(c.env, body.ids, { actor: 'admin', requestId: c.get('requestId') }))
  })
