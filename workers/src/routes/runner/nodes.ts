// orchestrator-runner's endpoints (RUNNER_TOKEN): node status reports and per-attempt credentials. The runner
// changes node state only through these; it never writes D1.
import { Hono, type Context } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { CLUSTER_NAME, nodeCredentialsRequestSchema, runnerStatusReportSchema } from '../../schemas/node-ops.ts'
import { nudgeFleetOfCluster } from '../../services/fleet/fleet-nudge.ts'
import { assertEndpointAllowed } from '../../services/nodes/endpoint-policy.ts'
import { applyRunnerReport, mintNodeCredentials } from '../../services/nodes/runner-reports.ts'
import { readJsonBody } from '../read-body.ts'

function clusterParam(c: Context<AppEnv>): string {
  const name = c.req.param('cluster') ?? ''
  if (!CLUSTER_NAME.test(name))
    throw new ApiError('invalid_request', `Invalid cluster name '${name}'.`, { param: 'cluster_name', code: 'invalid_cluster_name' })
  return name
}

export const runnerNodes = new Hono<AppEnv>()
  .post('/nodes/:cluster/status', async (c) => {
    const cluster = clusterParam(c)
    const report = await readJsonBody(c, runnerStatusReportSchema)
    const result = await applyRunnerReport(createDb(c.env.DB), cluster, report, c.get('requestId'))
    // A fleet node that failed or is gone frees room under max_nodes: its fleet reconciles now, not at its next alarm.
    if (result.applied && (result.status === 'failed' || result.status === 'terminated')) c.executionCtx.waitUntil(nudgeFleetOfCluster(c.env, cluster))
    return c.json(result)
  })
  .post('/nodes/:cluster/credentials', async (c) => {
    const cluster = clusterParam(c)
    const { endpoint } = await readJsonBody(c, nodeCredentialsRequestSchema)
    // The endpoint the runner created must itself be on the private path (production: https under NODES_ZONE).
    if (endpoint !== undefined) assertEndpointAllowed(endpoint, c.get('config'))
    // Secrets in the body: never cached by anything between the Worker and the runner.
    c.header('cache-control', 'no-store')
    return c.json(await mintNodeCredentials(createDb(c.env.DB), c.get('config').SECRETS_KEY, cluster, endpoint))
  })
