// Admin: bring-your-own nodes (register, list, remove).
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { registerNodeSchema } from '../../schemas/admin.ts'
import { getNodeRow, listNodeRows, nodeView, registerNode, removeNode } from '../../services/nodes/node-admin.ts'
import { assertNodeRemovable } from '../../services/nodes/node-launches.ts'
import { readJsonBody } from '../read-body.ts'

export const adminNodes = new Hono<AppEnv>()
  .post('/nodes', async (c) => {
    const input = await readJsonBody(c, registerNodeSchema)
    const node = await registerNode(createDb(c.env.DB), c.var.config.SECRETS_KEY, input, { actor: 'admin', requestId: c.var.requestId })
    return c.json(nodeView(node), 201)
  })
  .get('/nodes', async (c) => c.json({ object: 'list', data: (await listNodeRows(createDb(c.env.DB))).map(nodeView) }))
  .get('/nodes/:id', async (c) => {
    const node = await getNodeRow(createDb(c.env.DB), c.req.param('id'))
    if (!node) throw new ApiError('not_found', `No node with id '${c.req.param('id')}'.`, { code: 'node_not_found', param: 'id' })
    return c.json(nodeView(node))
  })
  .delete('/nodes/:id', async (c) => {
    const db = createDb(c.env.DB)
    const node = await getNodeRow(db, c.req.param('id'))
    if (!node) throw new ApiError('not_found', `No node with id '${c.req.param('id')}'.`, { code: 'node_not_found', param: 'id' })
    await assertNodeRemovable(db, node)
    await removeNode(db, node, { actor: 'admin', requestId: c.var.requestId })
    return c.json({ id: node.id, object: 'node', deleted: true })
  })
