// End to end, on one machine, with no cloud: POST /admin/nodes/launch -> node-ops queue -> (dev) Worker consumer
// -> pull/ack shim -> orchestrator-runner (real entry point) -> its node path in the Cloudflare stand-in (tunnel,
// Access app, DNS record) -> `sky` stand-in -> a task with no public port -> vLLM stand-in node + cloudflared
// stand-in, registering the runner's endpoint -> health check (through the tunnel and Access) promotes it -> a
// chat completion is served by it through the gateway, the tunnel and Access -> terminate drains it, `sky down`
// removes it, and nothing it had is left (process, tunnel, DNS record, Access app).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parse } from 'yaml'
import type { AccountSnapshot } from '../../scripts/cloudflare-standin/state.ts'
import { ensureDevVars } from '../../scripts/dev-stack.ts'
import { startDevStack, type DevStack } from '../../scripts/dev-stack.ts'
import { type CloudflareStandinUrls, LOCAL_NODES_ZONE, startLocalRunner, type LocalRunner } from '../../scripts/local-runner.ts'
import { stopNode } from '../../scripts/sky-standin/node.ts'
import { listClusters, readCalls } from '../../scripts/sky-standin/state.ts'
import { freePort } from './free-port.ts'

let stack: DevStack
let runner: LocalRunner
let persistTo: string
let skyStateDir: string
let cloudflare: CloudflareStandinUrls

/** What exists in the stand-in's Cloudflare account besides the gateway's service token. */
async function cloudflareState(): Promise<Omit<AccountSnapshot, 'serviceTokens'>> {
  const { serviceTokens: _, ...rest } = (await (await fetch(`${cloudflare.apiUrl.replace(/\/client\/v4$/, '')}/__standin/state`)).json()) as AccountSnapshot
  return rest
}

async function adminCall(method: string, route: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(stack.url + route, {
    method,
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}
const nodeStatus = async (cluster: string) => (await adminCall('GET', `/admin/nodes/${cluster}/status`)).json
const chat = (model: string) =>
  fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.demo.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'launched node says hello' }], max_tokens: 5 }),
  })

beforeAll(async () => {
  persistTo = mkdtempSync(path.join(tmpdir(), 'cic-e2e-launch-'))
  skyStateDir = mkdtempSync(path.join(tmpdir(), 'cic-e2e-sky-'))
  stack = await startDevStack({ port: await freePort(), standinPort: await freePort(), persistTo, quiet: true })
  if (!stack.runnerToken) throw new Error('.dev.vars has no RUNNER_TOKEN')
  runner = startLocalRunner({ gatewayUrl: stack.url, runnerToken: stack.runnerToken, skyStateDir, quiet: true, env: { HEALTH_PORT: '0' } }) // no health server: its default port 8080 may be another test's
  cloudflare = await runner.cloudflare()
})

afterAll(async () => {
  await runner?.close()
  await stack?.close()
  for (const cluster of listClusters(skyStateDir)) {
    stopNode(cluster.pid) // only if a test failed half-way
    stopNode(cluster.tunnelPid ?? null)
  }
  rmSync(persistTo, { recursive: true, force: true })
  rmSync(skyStateDir, { recursive: true, force: true })
})

describe('launching a GPU node locally', () => {
  it('launches with no public port, registers the tunnel endpoint, serves through the tunnel, then terminates leaving nothing', async () => {
    const model = `launched-llm-${crypto.randomUUID().slice(0, 8)}`
    const launched = await adminCall('POST', '/admin/nodes/launch', { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', model })
    expect(launched.status).toBe(202)
    const cluster = launched.json.cluster_name as string
    expect(launched.json).toMatchObject({ cluster_name: expect.stringMatching(/^cic-a100-80gb-/), status: 'launching' })

    const ready = await vi.waitFor(
      async () => {
        const status = await nodeStatus(cluster)
        if (status.status !== 'ready') throw new Error(`node is ${String(status.status)} (${String(status.last_error)})\n${runner.output().slice(-2000)}`)
        return status
      },
      { timeout: 90_000, interval: 250 },
    )
    // The endpoint is the one the runner created: the hostname's route through the (stand-in) edge.
    const hostname = `${cluster}.${LOCAL_NODES_ZONE}`
    expect(ready).toMatchObject({ models: [model], endpoint: `${cloudflare.edgeUrl}/${hostname}`, last_error: null, attempts: 1 })
    const endpoint = ready.endpoint as string
    const task = parse(readFileSync(path.join(skyStateDir, `${cluster}.task.yaml`), 'utf8')) as {
      resources: Record<string, unknown>
      envs: Record<string, string>
      secrets: Record<string, null>
      run: string
    }
    expect(task.resources).not.toHaveProperty('ports')
    expect(task.envs.CIC_NODE_ENDPOINT).toBe(endpoint)
    expect(task.secrets).toEqual({ CIC_REGISTER_TOKEN: null, VLLM_API_KEY: null, CIC_TUNNEL_TOKEN: null })
    expect(task.run).toContain('--host 127.0.0.1')
    expect(await cloudflareState()).toEqual({
      tunnels: [{ id: expect.any(String), name: `cic-node-${cluster}`, status: 'healthy' }],
      dnsRecords: [{ id: expect.any(String), name: hostname, type: 'CNAME', content: expect.stringMatching(/\.cfargotunnel\.com$/), proxied: true }],
      accessApps: [{ id: expect.any(String), name: `cic node ${cluster}`, domain: hostname, policies: ['non_identity'] }],
    })

    const res = await chat(model)
    expect(res.status).toBe(200)
    const completion = (await res.json()) as { model: string; choices: { message: { content: string } }[]; usage: { completion_tokens: number } }
    expect(completion).toMatchObject({ model, usage: { completion_tokens: 5 } })
    expect(completion.choices[0]?.message.content).toBe('launched node says hello launched ')
    // Access lets only the gateway's service token through (the Worker sent it: the completion above worked), and
    // behind it the node still requires the key minted for it.
    expect((await fetch(`${endpoint}/v1/models`)).status).toBe(403)
    const vars = ensureDevVars()
    const gateway = { 'cf-access-client-id': vars.CF_ACCESS_CLIENT_ID ?? '', 'cf-access-client-secret': vars.CF_ACCESS_CLIENT_SECRET ?? '' }
    expect((await fetch(`${endpoint}/v1/models`, { headers: gateway })).status).toBe(401)
    expect(readCalls(skyStateDir).filter((c) => c.argv[0] === 'launch')).toHaveLength(1)

    const terminated = await adminCall('POST', `/admin/nodes/${cluster}/terminate`)
    expect(terminated).toMatchObject({ status: 202, json: { cluster_name: cluster, status: 'terminating' } })
    expect((await nodeStatus(cluster)).status).toBe('draining')
    expect((await chat(model)).status).toBe(503) // out of routing at once

    await vi.waitFor(async () => expect((await nodeStatus(cluster)).status).toBe('terminated'), { timeout: 60_000, interval: 250 })
    expect(readCalls(skyStateDir).map((c) => c.argv)).toContainEqual(['down', '-y', cluster])
    expect(listClusters(skyStateDir)).toEqual([])
    // Nothing the launch created is left: no tunnel, no DNS record, no Access app; the hostname no longer routes.
    expect(await cloudflareState()).toEqual({ tunnels: [], dnsRecords: [], accessApps: [] })
    expect((await fetch(`${endpoint}/health`, { headers: gateway })).status).toBe(530)
  })
})
