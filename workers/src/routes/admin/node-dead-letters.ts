// Admin: the node-ops jobs (launch/terminate) orchestrator-runner dead-lettered: listed, replayed onto node-ops, or
// discarded once dealt with otherwise.
// Mounted before routes/admin/nodes.ts, whose GET /nodes/:id would otherwise take `dead-letters` for a node id.
import { Hono } from 'hono'
import { z } from 'zod'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { discardNodeOpDeadLetters, listNodeOpDeadLetters, nodeOpDeadLetterView, replayNodeOpDeadLetters } from '../../services/nodes/node-ops-dead-letters.ts'
import { readJsonBody } from '../read-body.ts'
import { readQuery } from '../read-query.ts'

export const deadLetterQuerySchema = z.strictObject({
  status: z.enum(['pending', 'replayed', 'discarded']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
})

/** At most 100 rows per call: the ids are bound parameters (D1 allows 100 per statement, platform-facts §10). */
export const replaySchema = z.strictObject({
  ids: z.array(z.string().min(1).max(300)).min(1).max(100).optional(),
  limit: z.number().int().min(1).max(100).default(100),
})

export const discardSchema = z.strictObject({ ids: z.array(z.string().min(1).max(300)).min(1).max(100) })

export const adminNodeDeadLetters = new Hono<AppEnv>()
  .get('/nodes/dead-letters', async (c) => {
    const q = readQuery(c, deadLetterQuerySchema)
    const rows = await listNodeOpDeadLetters(createDb(c.env.DB), { status: q.status, limit: q.limit })
    return c.json({ object: 'list', data: rows.map(nodeOpDeadLetterView) })
  })
  .post('/nodes/dead-letters/replay', async (c) => {
    const body = await readJsonBody(c, replaySchema)
    return c.json(await replayNodeOpDeadLetters(c.env, body, { actor: 'admin', requestId: c.get('requestId') }))
  })
  .post('/nodes/dead-letters/discard', async (c) => {
    const { ids } = await readJsonBody(c, discardSchema)
    return c.json(await discardNodeOpDeadLetters(c.env, ids, { actor: 'admin', requestId: c.get('requestId') }))
  })
