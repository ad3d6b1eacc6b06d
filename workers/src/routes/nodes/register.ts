// POST /nodes/register: a launched node's run script announces its endpoint and models, authenticated with the
// per-node token minted for its launch attempt. The node becomes 'warming' and its NodeMonitor starts: the first
// health check runs before the answer, so a healthy node is already 'ready' in it.
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import { type AppEnv, isProductionLike } from '../../env.ts'
import { log } from '../../log.ts'
import { nodeRegistrationSchema } from '../../schemas/node-ops.ts'
import { assertEndpointAllowed } from '../../services/nodes/endpoint-policy.ts'
import { getNodeRow } from '../../services/nodes/node-admin.ts'
import { startNodeMonitor } from '../../services/nodes/node-monitor-client.ts'
import { badRegistrationToken, registerLaunchedNode, REGISTER_TOKEN_FORMAT } from '../../services/nodes/node-registration.ts'
import { readJsonBody } from '../read-body.ts'

export const nodeRegistration = new Hono<AppEnv>().post('/register', async (c) => {
  const header = c.req.header('authorization') ?? ''
  const token = header.startsWith('Bearer ') ? header.slice(7).trim() : ''
  // Checked whole once the body names the cluster; a token that cannot be one is refused before any read.
  if (!REGISTER_TOKEN_FORMAT.test(token)) throw badRegistrationToken()
  const registration = await readJsonBody(c, nodeRegistrationSchema)
  const config = c.get('config')
  assertEndpointAllowed(registration.endpoint, config)
  const db = createDb(c.env.DB)
  const { node } = await registerLaunchedNode(db, registration, token, c.get('requestId'), isProductionLike(config))
  try {
    await startNodeMonitor(c.env, node.id)
  } catch (err) {
    // Registered either way: it stays warming until a later check (reading the node restarts its monitor).
    log.error('node_monitor_start_failed', { nodeId: node.id, error: String(err) })
  }
  const status = (await getNodeRow(db, node.id))?.status ?? node.status
  return c.json({ object: 'node.registration', cluster_name: node.name, node_id: node.id, status })
})
