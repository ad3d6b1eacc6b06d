// Console JSON API for operators (/dashboard/api): the fleet, dead letters, meter pushes, the audit log and an
// overview. Each route checks the operator right first, then calls the admin API's own service with the
// operator's email as the audit actor; answers are the admin API's shapes.
import { type Context, Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { z } from 'zod'
import { count, eq } from 'drizzle-orm'
import { createDb, type Db } from '../../db/client.ts'
import { nodeOpsDeadLetters, nodes, tenants, usageDeadLetters } from '../../db/schema.ts'
import { ApiError } from '../../errors.ts'
import { auditQuerySchema } from '../../schemas/audit-query.ts'
import { consoleReplaySchema } from '../../schemas/console.ts'
import { launchNodeSchema } from '../../schemas/node-ops.ts'
import { queryAudit } from '../../services/audit/audit-query.ts'
import { listMeterPushes, meterPushView } from '../../services/billing/meter-push.ts'
import { requireOperator } from '../../services/console/authz.ts'
import { userActor } from '../../services/console/users.ts'
import { drainNode, getNodeRow, listNodeRows, resumeNode } from '../../services/nodes/node-admin.ts'
import { launchNode, relaunchNode, terminateNode } from '../../services/nodes/node-launches.ts'
import { nodeSnapshots } from '../../services/nodes/node-monitor-client.ts'
import { listNodeOpDeadLetters, nodeOpDeadLetterView, replayNodeOpDeadLetters } from '../../services/nodes/node-ops-dead-letters.ts'
import { nodeDetailView, nodeView } from '../../services/nodes/node-views.ts'
import { deadLetterView, listDeadLetters, replayDeadLetters } from '../../services/usage/usage-dead-letters.ts'
import { usageSummary } from '../../services/usage/usage-summary.ts'
import type { NodeRow } from '../../db/schema.ts'
import { readJsonBody } from '../read-body.ts'
import { readQuery } from '../read-query.ts'
import type { AppEnv } from '../../env.ts'
import { principalOf } from './console-auth.ts'

const HOUR_MS = 3_600_000
const NODE_ID = /^[a-z]{3,4}_[A-Za-z0-9]{1,64}$/
const NODE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/

/** The hour of a row of usageSummary grouped by hour (its `start` field, typed by the grouping). */
const startOf = (row: Record<string, unknown>) => (typeof row.start === 'number' ? row.start : 0)

const operatorOnly = createMiddleware<AppEnv>(async (c, next) => {
  requireOperator(principalOf(c))
  await next()
})

const actorOf = (c: Context<AppEnv>) => userActor(principalOf(c).user, c.get('requestId'))

const deadLetterQuerySchema = z.strictObject({
  kind: z.enum(['usage', 'node_ops']),
  status: z.enum(['pending', 'replayed', 'discarded']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
})
const meterPushQuerySchema = z.strictObject({
  tenant_id: z.string().min(1).max(64).optional(),
  status: z.enum(['pending', 'sent', 'failed', 'rejected']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
})

async function detailed(env: Env, rows: NodeRow[]) {
  const snapshots = await nodeSnapshots(
    env,
    rows.map((r) => r.id),
  )
  return rows.map((r) => {
    const s = snapshots.get(r.id)
    return s ? nodeDetailView(r, s) : nodeView(r)
  })
}

async function nodeById(db: Db, id: string): Promise<NodeRow> {
  const node = NODE_ID.test(id) ? await getNodeRow(db, id) : undefined
  if (!node) throw new ApiError('not_found', `No node with id '${id}'.`, { code: 'node_not_found', param: 'id' })
  return node
}

function clusterName(name: string): string {
  if (!NODE_NAME.test(name)) throw new ApiError('not_found', `No node named '${name}'.`, { code: 'node_not_found', param: 'name' })
  return name
}

export const operatorApi = new Hono<AppEnv>()
  // Every route of this sub-app is operator-only (one check per path pattern; the roles test calls each route).
  .use('/overview', operatorOnly)
  .use('/nodes', operatorOnly)
  .use('/nodes/*', operatorOnly)
  .use('/audit', operatorOnly)
  .use('/dead-letters', operatorOnly)
  .use('/dead-letters/*', operatorOnly)
  .use('/meter-pushes', operatorOnly)
  .get('/overview', async (c) => {
    const db = createDb(c.env.DB)
    const now = Date.now()
    const from = Math.floor(now / HOUR_MS) * HOUR_MS - 23 * HOUR_MS
    const [tenantCount, byStatus, usagePending, nodeOpsPending] = await db.batch([
      db.select({ n: count() }).from(tenants),
      db.select({ status: nodes.status, n: count() }).from(nodes).groupBy(nodes.status),
      db.select({ n: count() }).from(usageDeadLetters).where(eq(usageDeadLetters.status, 'pending')),
      db.select({ n: count() }).from(nodeOpsDeadLetters).where(eq(nodeOpsDeadLetters.status, 'pending')),
    ])
    const usage = await usageSummary(db, { from, to: from + 24 * HOUR_MS, groupBy: 'hour' })
    return c.json({
      tenants: tenantCount[0]?.n ?? 0,
      nodes_by_status: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
      usage_last_24h: {
        requests: usage.totals.requests,
        prompt_tokens: usage.totals.prompt_tokens,
        completion_tokens: usage.totals.completion_tokens,
        total_tokens: usage.totals.total_tokens,
      },
      usage_by_hour: usage.data.map((r) => ({
        start: startOf(r),
        requests: r.requests,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        total_tokens: r.total_tokens,
      })),
      dead_letters_pending: { usage: usagePending[0]?.n ?? 0, node_ops: nodeOpsPending[0]?.n ?? 0 },
    })
  })
  .get('/nodes', async (c) => c.json({ object: 'list', data: await detailed(c.env, await listNodeRows(createDb(c.env.DB))) }))
  .post('/nodes/launch', async (c) => {
    const spec = await readJsonBody(c, launchNodeSchema)
    const { node } = await launchNode(c.env, createDb(c.env.DB), spec, actorOf(c))
    return c.json({ object: 'node.launch', cluster_name: node.name, node_id: node.id, status: 'launching' }, 202)
  })
  .post('/nodes/:id/drain', async (c) => {
    const db = createDb(c.env.DB)
    const [node] = await detailed(c.env, [await drainNode(db, await nodeById(db, c.req.param('id')), actorOf(c))])
    return c.json(node)
  })
  .post('/nodes/:id/resume', async (c) => {
    const db = createDb(c.env.DB)
    const [node] = await detailed(c.env, [await resumeNode(c.env, db, await nodeById(db, c.req.param('id')), actorOf(c))])
    return c.json(node)
  })
  .post('/nodes/:name/terminate', async (c) => {
    const { node } = await terminateNode(c.env, createDb(c.env.DB), clusterName(c.req.param('name')), actorOf(c))
    return c.json({ object: 'node.terminate', cluster_name: node.name, node_id: node.id, status: 'terminating' }, 202)
  })
  .post('/nodes/:name/relaunch', async (c) => {
    const { node } = await relaunchNode(c.env, createDb(c.env.DB), clusterName(c.req.param('name')), actorOf(c))
    return c.json({ object: 'node.launch', cluster_name: node.name, node_id: node.id, status: 'launching' }, 202)
  })
  .get('/audit', async (c) => c.json(await queryAudit(createDb(c.env.DB), readQuery(c, auditQuerySchema))))
  .get('/dead-letters', async (c) => {
    const q = readQuery(c, deadLetterQuerySchema)
    const db = createDb(c.env.DB)
    const data =
      q.kind === 'usage'
        ? (await listDeadLetters(db, { status: q.status, limit: q.limit })).map(deadLetterView)
        : (await listNodeOpDeadLetters(db, { status: q.status, limit: q.limit })).map(nodeOpDeadLetterView)
    return c.json({ object: 'list', data })
  })
  .post('/dead-letters/replay', async (c) => {
    const { kind, ids, limit } = await readJsonBody(c, consoleReplaySchema)
    const request = { ids, limit }
    return c.json(kind === 'usage' ? await replayDeadLetters(c.env, request, actorOf(c)) : await replayNodeOpDeadLetters(c.env, request, actorOf(c)))
  })
  .get('/meter-pushes', async (c) => {
    const q = readQuery(c, meterPushQuerySchema)
    const rows = await listMeterPushes(createDb(c.env.DB), { tenantId: q.tenant_id, status: q.status, limit: q.limit })
    return c.json({ object: 'list', data: rows.map(meterPushView) })
  })
