// POST /nodes/register: a launched node's run script announces its endpoint and models, authenticated with the
// per-node token minted for its launch attempt. The node becomes 'warming'; promotion to 'ready' runs after
// the response, in waitUntil.
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { nodeRegistrationSchema } from '../../schemas/node-ops.ts'
import { registerLaunchedNode } from '../../services/nodes/node-registration.ts'
import { promoteWhenHealthy } from '../../services/nodes/promote-when-healthy.ts'
import { readJsonBody } from '../read-body.ts'

export const nodeRegistration = new Hono<AppEnv>()
  .post('/register', async (c) => {
    const header = c.req.header('authorization') ?? ''
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : ''
    const registration = await readJsonBody(c, nodeRegistrationSchema)
    const db = createDb(c.env.DB)
    const { node } = await registerLaunchedNode(db, registration, token)
    // SEAM (issue #4): replaced by starting the node's NodeMonitor at merge; see promote-when-healthy.ts.
    c.executionCtx.waitUntil(promoteWhenHealthy(db, node))
    return c.json({ object: 'node.registration', cluster_name: node.name, node_id: node.id, status: node.status })
  })
