// Admin: bring-your-own nodes (register, list and show with breaker/health/load, tune the breaker, drain,
// resume, remove).
import { Hono, type Context } from 'hono'
import { createDb, type Db } from '../../db/client.ts'
import type { NodeRow } from '../../db/schema.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { registerNodeSchema, updateNodeSchema } from '../../schemas/admin.ts'
import { drainNode, getNodeRow, listNodeRows, registerNode, removeNode, resumeNode, updateNode } from '../../services/nodes/node-admin.ts'
import { assertEndpointAllowed } from '../../services/nodes/endpoint-policy.ts'
import { assertNodeRemovable } from '../../services/nodes/node-launches.ts'
import { nodeSnapshots } from '../../services/nodes/node-monitor-client.ts'
import { nodeDetailView, nodeView } from '../../services/nodes/node-views.ts'
import { readJsonBody } from '../read-body.ts'

const actor = (c: Context<AppEnv>) => ({ actor: 'admin', requestId: c.get('requestId') })

async function findNode(c: Context<AppEnv>, db: Db): Promise<NodeRow> {
  const node = await getNodeRow(db, c.req.param('id') ?? '')
  if (!node) throw new ApiError('not_found', `No node with id '${c.req.param('id')}'.`, { code: 'node_not_found', param: 'id' })
  return node
}

async function detail(env: Env, row: NodeRow) {
  const snapshot = (await nodeSnapshots(env, [row.id])).get(row.id)
  return snapshot ? nodeDetailView(row, snapshot) : nodeView(row)
}

export const adminNodes = new Hono<AppEnv>()
  .post('/nodes', async (c) => {
    const input = await readJsonBody(c, registerNodeSchema)
    assertEndpointAllowed(input.endpoint, c.get('config'))
    const node = await registerNode(c.env, createDb(c.env.DB), input, actor(c))
    return c.json(await detail(c.env, node), 201)
  })
  .get('/nodes', async (c) => {
    const rows = await listNodeRows(createDb(c.env.DB))
    const snapshots = await nodeSnapshots(
      c.env,
      rows.map((r) => r.id),
    )
    return c.json({
      object: 'list',
      data: rows.map((r) => {
        const s = snapshots.get(r.id)
        return s ? nodeDetailView(r, s) : nodeView(r)
      }),
    })
  })
  .get('/nodes/:id', async (c) => c.json(await detail(c.env, await findNode(c, createDb(c.env.DB)))))
  .patch('/nodes/:id', async (c) => {
    const db = createDb(c.env.DB)
    const node = await findNode(c, db)
    await updateNode(c.env, db, node, await readJsonBody(c, updateNodeSchema), actor(c))
    return c.json(await detail(c.env, node))
  })
  .post('/nodes/:id/drain', async (c) => {
    const db = createDb(c.env.DB)
    return c.json(await detail(c.env, await drainNode(db, await findNode(c, db), actor(c))))
  })
  .post('/nodes/:id/resume', async (c) => {
    const db = createDb(c.env.DB)
    return c.json(await detail(c.env, await resumeNode(c.env, db, await findNode(c, db), actor(c))))
  })
  .delete('/nodes/:id', async (c) => {
    const db = createDb(c.env.DB)
    const node = await findNode(c, db)
    await assertNodeRemovable(db, node) // a node CIC launched is terminated instead, so its GPUs are released
    const { removed } = await removeNode(c.env, db, node, actor(c))
    // 202: the node drains first; it disappears once its monitor sees nothing running on it.
    return removed ? c.json({ id: node.id, object: 'node', deleted: true }) : c.json({ id: node.id, object: 'node', deleted: false, status: 'draining' }, 202)
  })
