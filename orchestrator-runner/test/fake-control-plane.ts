// A control plane for runner tests, over real HTTP: the Worker's /runner and /nodes/register endpoints with the
// Worker's own lifecycle table (launch-lifecycle.ts), in memory. It records every call so tests see what the
// runner and the node did, in order.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { nextStatus } from '../../workers/src/services/nodes/launch-lifecycle.ts'
import type { NodeStatus, RunnerStatus } from '../../workers/src/schemas/node-ops.ts'

export const RUNNER_TOKEN = 'runner-test-token-0123456789'

export type FakeNode = {
  status: NodeStatus
  lastError: string | null
  registerToken: string | null
  vllmApiKey: string | null
  endpoint: string | null
  /** The endpoint the runner reported with the credentials: the only one registration accepts. */
  expectedEndpoint: string | null
  models: string[]
  credentialsMinted: number
}
export type FakeControlPlane = {
  url: string
  nodes: Map<string, FakeNode>
  calls: { path: string; body: unknown }[]
  /** `node_path_failure` of every status report (what the Worker counts in cic_node_path_failures_total). */
  nodePathFailures: string[]
  addNode(cluster: string, status?: NodeStatus): FakeNode
  close(): Promise<void>
}

export async function startFakeControlPlane(): Promise<FakeControlPlane> {
  const nodes = new Map<string, FakeNode>()
  const calls: { path: string; body: unknown }[] = []
  const nodePathFailures: string[] = []
  let minted = 0

  const server: Server = createServer((req, res) => {
    let text = ''
    req.on('data', (c: Buffer) => {
      text += c.toString()
    })
    req.on('end', () => {
      const body: unknown = text ? JSON.parse(text) : undefined
      const path = req.url ?? ''
      calls.push({ path, body })
      const send = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json))
      const auth = req.headers.authorization ?? ''

      if (path === '/nodes/register') {
        const reg = body as { cluster_name: string; endpoint: string; models: string[] }
        const node = nodes.get(reg.cluster_name)
        if (!node?.registerToken || auth !== `Bearer ${node.registerToken}`) return send(401, { error: { message: 'Invalid node registration token.' } })
        if (reg.endpoint !== node.expectedEndpoint)
          return send(403, { error: { message: 'endpoint is not the one created for this launch', param: 'endpoint' } })
        const to = nextStatus(node.status, { type: 'registered' })
        if (!to) return send(409, { error: { message: `node is ${node.status}` } })
        Object.assign(node, { status: to, endpoint: reg.endpoint, models: reg.models })
        return send(200, { cluster_name: reg.cluster_name, status: to })
      }
      if (auth !== `Bearer ${RUNNER_TOKEN}`) return send(401, { error: { message: 'Invalid runner token.' } })
      const match = /^\/runner\/nodes\/([^/]+)\/(status|credentials)$/.exec(path)
      const cluster = decodeURIComponent(match?.[1] ?? '')
      const node = nodes.get(cluster)
      if (!match) return send(404, { error: { message: 'Unknown route.' } })
      if (!node) return send(404, { error: { message: `No node named '${cluster}'.` } })
      if (match[2] === 'status') {
        const report = body as { status: RunnerStatus; error?: string; node_path_failure?: string }
        if (report.node_path_failure) nodePathFailures.push(report.node_path_failure)
        const to = nextStatus(node.status, { type: 'runner', status: report.status })
        const previous = node.status
        if (to) Object.assign(node, { status: to, lastError: report.error ?? (report.status === 'launching' ? null : node.lastError) })
        return send(200, { cluster_name: cluster, node_id: `node_${cluster}`, status: node.status, applied: to !== null, previous_status: previous })
      }
      if (node.status !== 'launching') return send(409, { error: { message: `node is ${node.status}` } })
      const endpoint = (body as { endpoint?: unknown } | undefined)?.endpoint
      if (typeof endpoint !== 'string') return send(400, { error: { message: 'endpoint is required', param: 'endpoint' } })
      minted++
      Object.assign(node, {
        expectedEndpoint: endpoint,
        registerToken: `cicreg_${'t'.repeat(40)}${minted}`,
        vllmApiKey: `sk-node-${'k'.repeat(40)}${minted}`,
        credentialsMinted: node.credentialsMinted + 1,
      })
      return send(200, { cluster_name: cluster, node_id: `node_${cluster}`, register_token: node.registerToken, vllm_api_key: node.vllmApiKey })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    nodes,
    calls,
    nodePathFailures,
    addNode(cluster, status = 'queued') {
      const node: FakeNode = {
        status,
        lastError: null,
        registerToken: null,
        vllmApiKey: null,
        endpoint: null,
        expectedEndpoint: null,
        models: [],
        credentialsMinted: 0,
      }
      nodes.set(cluster, node)
      return node
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
