// Admin: launch GPU nodes through orchestrator-runner, terminate (drain, then sky down), relaunch, and status.
// 202s name the operation accepted; GET .../status shows where the node is in its lifecycle.
import { Hono, type Context } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { launchNodeSchema } from '../../schemas/node-ops.ts'
import { findNodeByName } from '../../services/nodes/node-launch-store.ts'
import { launchNode, nodeStatusView, relaunchNode, terminateNode } from '../../services/nodes/node-launches.ts'
import { readJsonBody } from '../read-body.ts'

// Any node name (launched or registered by hand); the lookup decides whether it exists.
const NODE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/

function clusterParam(c: Context<AppEnv>): string {
  const name = c.req.param('cluster_name') ?? ''
  if (!NODE_NAME.test(name)) throw new ApiError('not_found', `No node named '${name}'.`, { code: 'node_not_found', param: 'cluster_name' })
  return name
}

const actor = (c: Context<AppEnv>) => ({ actor: 'admin', requestId: c.get('requestId') })

export const adminNodeLaunches = new Hono<AppEnv>()
  .post('/nodes/launch', async (c) => {
    const spec = await readJsonBody(c, launchNodeSchema)
    const { node } = await launchNode(c.env, createDb(c.env.DB), spec, actor(c))
    return c.json({ object: 'node.launch', cluster_name: node.name, node_id: node.id, status: 'launching' }, 202)
  })
  .post('/nodes/:cluster_name/terminate', async (c) => {
    const { node } = await terminateNode(c.env, createDb(c.env.DB), clusterParam(c), actor(c))
    // 'terminating': the node drains first; `sky down` starts once nothing runs on it (see its monitor).
    return c.json({ object: 'node.terminate', cluster_name: node.name, node_id: node.id, status: 'terminating' }, 202)
  })
  .post('/nodes/:cluster_name/relaunch', async (c) => {
    const { node } = await relaunchNode(c.env, createDb(c.env.DB), clusterParam(c), actor(c))
    return c.json({ object: 'node.launch', cluster_name: node.name, node_id: node.id, status: 'launching' }, 202)
  })
  .get('/nodes/:cluster_name/status', async (c) => {
    const name = clusterParam(c)
    const found = await findNodeByName(createDb(c.env.DB), name)
    if (!found) throw new ApiError('not_found', `No node named '${name}'.`, { code: 'node_not_found', param: 'cluster_name' })
    return c.json(nodeStatusView(found))
  })
