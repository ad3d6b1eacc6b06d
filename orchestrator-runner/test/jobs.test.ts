// The runner's jobs end to end on this machine: the real SkyPilot CLI wrapper running the `sky` stand-in (which
// starts a vLLM stand-in "node", its cloudflared stand-in, and registers itself), the node path created in the
// Cloudflare stand-in, against a control plane over HTTP that applies the Worker's lifecycle table. Covers
// launch, idempotency on redelivery, capacity backoff, failures, timeouts, stale clusters, terminate (nothing
// left in Cloudflare), and the dispatcher's own guards.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { LaunchMessage, TerminateMessage } from '../../workers/src/schemas/node-ops.ts'
import { createControlPlane } from '../src/control-plane/client.ts'
import { createDispatcher } from '../src/jobs/dispatch.ts'
import type { JobDeps } from '../src/jobs/job.ts'
import { runLaunch } from '../src/jobs/launch.ts'
import { runTerminate } from '../src/jobs/terminate.ts'
import { silentLog } from '../src/log.ts'
import { createSkyCli } from '../src/skypilot/cli.ts'
import { classifyLaunchFailure } from '../src/skypilot/failures.ts'
import { buildTask, renderTaskYaml } from '../src/skypilot/task-yaml.ts'
import { PERMISSIONS } from '../../scripts/cloudflare-standin/api.ts'
import { cloudflareEnv, NODE_PATH_TOKEN, type CloudflareEnv } from './cloudflare-env.ts'
import { RUNNER_TOKEN, startFakeControlPlane, type FakeControlPlane } from './fake-control-plane.ts'
import { skyStandinEnv, type SkyStandinEnv } from './sky-standin-env.ts'

let cp: FakeControlPlane
let sky: SkyStandinEnv
let cf: CloudflareEnv
let n = 0

beforeAll(async () => {
  cp = await startFakeControlPlane()
})
afterAll(async () => {
  await cp.close()
})
beforeEach(async () => {
  sky = skyStandinEnv()
  cf = await cloudflareEnv()
})
afterEach(async () => {
  sky.cleanup()
  await cf.close()
})

const EMPTY = { tunnels: [], dnsRecords: [], accessApps: [] }
/** What exists in the Cloudflare account besides the gateway's service token. */
const cloudflare = () => {
  const { serviceTokens: _, ...rest } = cf.cf.snapshot()
  return rest
}

function deps(overrides: { launchTimeoutMs?: number } = {}): JobDeps {
  return {
    sky: createSkyCli({
      bin: 'sky',
      env: { ...sky.env, ...cf.skyEnv },
      launchTimeoutMs: overrides.launchTimeoutMs ?? 60_000,
      downTimeoutMs: 30_000,
      statusTimeoutMs: 30_000,
    }),
    controlPlane: createControlPlane({ baseUrl: cp.url, runnerToken: RUNNER_TOKEN }),
    nodePath: cf.nodePath,
    log: silentLog,
    task: { registerUrl: `${cp.url}/nodes/register`, vllmPipSpec: 'vllm==0.11.0', autodownIdleMinutes: 30, hasHfToken: false },
    extraSecrets: {},
    maxLaunchAttempts: 3,
    capacityRetryBaseSeconds: 60,
    retryMaxSeconds: 1800,
  }
}

function launchMessage(status: Parameters<FakeControlPlane['addNode']>[1] = 'queued'): LaunchMessage {
  const cluster = `cic-a100-${String(++n).padStart(8, '0')}`
  cp.addNode(cluster, status)
  return {
    op: 'launch',
    cluster_name: cluster,
    node_id: `node_${cluster}`,
    requested_at: Date.now(),
    spec: { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', gpu_count: 1, model: `model-${n}`, use_spot: false, disk_size: 256, vllm_args: [] },
  }
}
const terminateMessage = (m: LaunchMessage): TerminateMessage => ({
  op: 'terminate',
  cluster_name: m.cluster_name,
  node_id: m.node_id,
  requested_at: Date.now(),
})
const node = (m: { cluster_name: string }) => cp.nodes.get(m.cluster_name) as NonNullable<ReturnType<FakeControlPlane['nodes']['get']>>

describe('launch', () => {
  it("launches once with the node's secrets, and the node serves through its tunnel with its key and registers the runner's endpoint", async () => {
    const m = launchMessage()
    expect(await runLaunch(m, 1, deps())).toEqual({ kind: 'ack' })
    expect(sky.calls()).toEqual([
      ['status', '--ip', m.cluster_name],
      [
        'launch',
        '-y',
        '-d',
        '-c',
        m.cluster_name,
        expect.stringMatching(/cic-task-.*\.sky\.yaml$/),
        '--secret',
        'CIC_REGISTER_TOKEN',
        '--secret',
        'VLLM_API_KEY',
        '--secret',
        'CIC_TUNNEL_TOKEN',
      ],
    ])
    const registered = node(m)
    const hostname = `${m.cluster_name}.nodes.cic.test`
    expect(registered).toMatchObject({
      status: 'warming',
      models: [m.spec.model],
      endpoint: `${cf.cf.edgeUrl}/${hostname}`,
      expectedEndpoint: `${cf.cf.edgeUrl}/${hostname}`,
      credentialsMinted: 1,
    })
    // What the runner made in Cloudflare for this attempt: one tunnel (connected), its DNS name, its Access app.
    // The node's cloudflared connects on its own (registration waits only for vLLM): wait for it.
    await vi.waitFor(() => expect(cloudflare().tunnels[0]?.status).toBe('healthy'), { timeout: 10_000 })
    expect(cloudflare()).toEqual({
      tunnels: [{ id: expect.any(String), name: `cic-node-${m.cluster_name}`, status: 'healthy' }],
      dnsRecords: [{ id: expect.any(String), name: hostname, type: 'CNAME', content: expect.stringMatching(/\.cfargotunnel\.com$/), proxied: true }],
      accessApps: [{ id: expect.any(String), name: `cic node ${m.cluster_name}`, domain: hostname, policies: ['non_identity'] }],
    })
    expect(
      cp.calls.filter((c) => c.path.includes(m.cluster_name) || (c.body as { cluster_name?: string })?.cluster_name === m.cluster_name).map((c) => c.path),
    ).toEqual([`/runner/nodes/${m.cluster_name}/status`, `/runner/nodes/${m.cluster_name}/credentials`, '/nodes/register'])
    // The node's cloudflared also checks the Access JWT of this node's app (ACCESS_TEAM_NAME set).
    const tunnel = [...cf.cf.account.tunnels.values()].find((t) => t.deletedAt === null)
    const app = [...cf.cf.account.accessApps.values()][0]
    expect(tunnel?.config?.ingress).toEqual([
      { hostname, service: 'http://localhost:8000', originRequest: { access: { required: true, teamName: 'cic-test', audTag: [app?.aud] } } },
      { service: 'http_status:404' },
    ])
    // Through the tunnel, with the gateway's service token, the node answers only with the key minted for it.
    const gateway = cf.gatewayHeaders
    const models = await fetch(`${registered.endpoint}/v1/models`, { headers: { ...gateway, authorization: `Bearer ${registered.vllmApiKey}` } })
    expect(((await models.json()) as { data: { id: string }[] }).data.map((d) => d.id)).toContain(m.spec.model)
    expect((await fetch(`${registered.endpoint}/v1/models`, { headers: gateway })).status).toBe(401)
    // Without the service token Access refuses, whatever the API key: the request never reaches vLLM.
    expect((await fetch(`${registered.endpoint}/v1/models`, { headers: { authorization: `Bearer ${registered.vllmApiKey}` } })).status).toBe(403)
    // The task YAML opened no port and carried no secret.
    const taskCalls = sky.calls().filter((argv) => argv[0] === 'launch')
    expect(taskCalls).toHaveLength(1)
  })

  it('does not launch a second A100 when the message is redelivered, before or after the node registered', async () => {
    const m = launchMessage()
    await runLaunch(m, 1, deps())
    // Redelivered after registration: the control plane says the launch is over; sky is not even asked.
    const callsBefore = sky.calls().length
    expect(await runLaunch(m, 2, deps())).toEqual({ kind: 'ack' })
    expect(sky.calls().length).toBe(callsBefore)
    // Redelivered while the control plane still says launching (e.g. the runner died before acking): sky status
    // finds the cluster UP, so no launch and no new credentials (they would break the running node).
    node(m).status = 'launching'
    expect(await runLaunch(m, 2, deps())).toEqual({ kind: 'ack' })
    expect(sky.launches(m.cluster_name)).toBe(1)
    expect(node(m).credentialsMinted).toBe(1)
  })

  it('retries a capacity shortage later with backoff, cleaning up, then launches', async () => {
    sky.setKnobs({ fail: 'capacity', failTimes: 2 })
    const m = launchMessage()
    expect(await runLaunch(m, 1, deps())).toEqual({ kind: 'retry', delaySeconds: 60 })
    expect(node(m)).toMatchObject({
      status: 'queued',
      lastError: expect.stringMatching(/^no_capacity: .*InsufficientInstanceCapacity.*\(attempt 1\/3, retrying in 60s\)$/),
    })
    expect(sky.calls().at(-1)).toEqual(['down', '-y', m.cluster_name])
    expect(await runLaunch(m, 2, deps())).toEqual({ kind: 'retry', delaySeconds: 120 })
    expect(cloudflare()).toEqual(EMPTY) // each failed attempt removed its tunnel, DNS record and Access app
    expect(await runLaunch(m, 3, deps())).toEqual({ kind: 'ack' })
    expect(node(m)).toMatchObject({ status: 'warming', lastError: null })
    expect(sky.launches(m.cluster_name)).toBe(3)
    expect(cloudflare().tunnels).toHaveLength(1)
  })

  it('fails the node when capacity never comes', async () => {
    sky.setKnobs({ fail: 'capacity' })
    const m = launchMessage()
    expect(await runLaunch(m, 3, deps())).toEqual({ kind: 'ack' })
    expect(node(m)).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/^no_capacity: .*\(gave up after 3 attempts\)$/) })
  })

  it.each([
    ['auth', /^auth: .*credentials are not set/],
    ['quota', /^quota: .*VcpuLimitExceeded/],
  ] as const)('fails the node at once on %s errors, with the reason', async (fail, reason) => {
    sky.setKnobs({ fail })
    const m = launchMessage()
    expect(await runLaunch(m, 1, deps())).toEqual({ kind: 'ack' })
    expect(node(m)).toMatchObject({ status: 'failed', lastError: expect.stringMatching(reason) })
    expect(sky.launches(m.cluster_name)).toBe(1)
  })

  it("fails at once, with SkyPilot's reason, a launch no cloud can ever satisfy (not retried as a capacity shortage)", async () => {
    sky.setKnobs({ fail: 'unsatisfiable' })
    const m = launchMessage()
    expect(await runLaunch(m, 1, deps())).toEqual({ kind: 'ack' })
    expect(node(m)).toMatchObject({
      status: 'failed',
      lastError: expect.stringMatching(
        /^unsatisfiable: sky\.exceptions\.ResourcesUnavailableError: No launchable resource found for task cic-.* Region: us-central1\. \| This means the catalog does not contain/,
      ),
    })
    expect(node(m).lastError).not.toMatch(/retrying|attempt/)
    expect(sky.launches(m.cluster_name)).toBe(1)
    expect(sky.clusters()).toEqual([])
  })

  it('gets SkyPilot\'s "No launchable resource" from the stand-in for AWS A100:1, had it got past the API and the runner\'s check', async () => {
    const m = launchMessage()
    const impossible = { ...m, spec: { ...m.spec, provider: 'aws' as const, region: 'us-east-1', gpu: 'A100-80GB', gpu_count: 1 } }
    const grant = await cf.nodePath.create(m.cluster_name) // a connectable tunnel: the node's registration waits for it
    const secrets = { CIC_REGISTER_TOKEN: 'x', VLLM_API_KEY: 'y', CIC_TUNNEL_TOKEN: grant.tunnelToken }
    const result = await deps().sky.launch(m.cluster_name, renderTaskYaml(buildTask(impossible, deps().task, 'https://x.nodes.cic.test')), secrets)
    expect(result.exitCode).toBe(1)
    expect(classifyLaunchFailure(result)).toMatchObject({
      kind: 'unsatisfiable',
      isRetryable: false,
      reason: expect.stringContaining('No launchable resource found for task'),
    })
    expect(sky.clusters()).toEqual([])
    // 8 GPUs is what AWS sells: the stand-in launches it.
    const eight = { ...impossible, spec: { ...impossible.spec, gpu_count: 8 } }
    expect((await deps().sky.launch(m.cluster_name, renderTaskYaml(buildTask(eight, deps().task, 'https://x.nodes.cic.test')), secrets)).exitCode).toBe(0)
  })

  it('fails a launch that exceeds its timeout and tears down what it left', async () => {
    sky.setKnobs({ delayMs: 20_000 })
    const m = launchMessage()
    expect(await runLaunch(m, 1, deps({ launchTimeoutMs: 1_500 }))).toEqual({ kind: 'ack' })
    expect(node(m)).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/^timeout: /) })
    expect(sky.calls().at(-1)).toEqual(['down', '-y', m.cluster_name])
    expect(sky.clusters()).toEqual([])
  })

  it('replaces a cluster an earlier attempt left half-made (INIT) instead of reusing it', async () => {
    const m = launchMessage('launching')
    writeFileSync(
      path.join(sky.stateDir, 'clusters', `${m.cluster_name}.json`),
      JSON.stringify({ name: m.cluster_name, status: 'INIT', pid: null, endpoint: null, launchedAt: 1, jobs: 0 }),
    )
    expect(await runLaunch(m, 2, deps())).toEqual({ kind: 'ack' })
    expect(sky.calls().map((argv) => argv[0])).toEqual(['status', 'down', 'launch'])
    expect(node(m).status).toBe('warming')
  })

  it('does nothing when the node is being terminated, and only makes sure nothing runs when it no longer exists', async () => {
    const draining = launchMessage('draining')
    expect(await runLaunch(draining, 1, deps())).toEqual({ kind: 'ack' })
    expect(sky.calls()).toEqual([])
    const gone = launchMessage()
    cp.nodes.delete(gone.cluster_name)
    expect(await runLaunch(gone, 1, deps())).toEqual({ kind: 'ack' })
    expect(sky.calls()).toEqual([['down', '-y', gone.cluster_name]])
  })

  it('replaces the cluster of a hung node when it is relaunched, with fresh credentials, and a redelivery of the relaunch launches nothing more', async () => {
    const m = launchMessage()
    await runLaunch(m, 1, deps())
    const first = node(m)
    const oldEndpoint = first.endpoint as string
    // The node hung and was failed (deadline or health checks), then POST /admin/nodes/:cluster/relaunch.
    first.status = 'queued'
    const relaunch = { ...m, requested_at: m.requested_at + 1 }
    expect(await runLaunch(relaunch, 1, deps())).toEqual({ kind: 'ack' })
    expect(
      sky
        .calls()
        .slice(2)
        .map((argv) => argv[0]),
    ).toEqual(['status', 'down', 'launch'])
    expect(node(m)).toMatchObject({ status: 'warming', credentialsMinted: 2 })
    expect(sky.clusters()).toHaveLength(1)
    // A new tunnel for the new attempt; the old one (whose token the old node had) is deleted.
    expect(cloudflare().tunnels).toEqual([expect.objectContaining({ name: `cic-node-${m.cluster_name}` })])
    expect(cf.cf.account.tunnels.size).toBe(2)
    expect(node(m).endpoint).toBe(oldEndpoint) // same hostname, new tunnel behind it
    // Served by the new node once its cloudflared has connected.
    await vi.waitFor(async () => expect((await fetch(`${oldEndpoint}/health`, { headers: cf.gatewayHeaders })).status).toBe(200), { timeout: 10_000 })
    // The relaunch message redelivered (runner died before acking): the node is launching and its cluster UP.
    node(m).status = 'launching'
    expect(await runLaunch(relaunch, 2, deps())).toEqual({ kind: 'ack' })
    expect(sky.launches(m.cluster_name)).toBe(2)
    expect(node(m).credentialsMinted).toBe(2)
  })

  it('keeps a relaunch queued and retries it while the previous cluster cannot be torn down', async () => {
    const m = launchMessage()
    await runLaunch(m, 1, deps())
    node(m).status = 'queued'
    sky.setKnobs({ failDownTimes: 1 })
    expect(await runLaunch(m, 1, deps())).toEqual({ kind: 'retry', delaySeconds: 30 })
    expect(node(m)).toMatchObject({ status: 'queued', lastError: expect.stringContaining('could not remove the previous cluster') })
    expect(sky.launches(m.cluster_name)).toBe(1)
    // The retry is still a new attempt: it replaces the cluster instead of taking it for its own.
    expect(await runLaunch(m, 2, deps())).toEqual({ kind: 'ack' })
    expect(sky.launches(m.cluster_name)).toBe(2)
    expect(node(m)).toMatchObject({ status: 'warming', credentialsMinted: 2 })
  })

  it('keeps retrying a failed launch whose cleanup failed until the cluster is gone', async () => {
    sky.setKnobs({ fail: 'setup', failDownTimes: 1 }) // a failed setup leaves an INIT cluster behind
    const m = launchMessage()
    expect(await runLaunch(m, 1, deps())).toEqual({ kind: 'retry', delaySeconds: 30 })
    expect(node(m)).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/^error: .*setup/) })
    expect(sky.clusters()).toHaveLength(1)
    expect(await runLaunch(m, 2, deps())).toEqual({ kind: 'ack' })
    expect(sky.clusters()).toEqual([])
    expect(sky.launches(m.cluster_name)).toBe(1)
    expect(node(m).status).toBe('failed')
  })
})

describe('the node path (Cloudflare Tunnel + Access + DNS)', () => {
  it("fails the node with the API's reason, launches nothing and leaves nothing, when the token lacks a permission", async () => {
    await cf.close()
    cf = await cloudflareEnv({ extraTokens: [{ value: 'no-dns-token-0123456789', permissions: [PERMISSIONS.tunnel, PERMISSIONS.accessApps] }] })
    const m = launchMessage()
    expect(await runLaunch(m, 1, { ...deps(), nodePath: cf.nodePathWith('no-dns-token-0123456789') })).toEqual({ kind: 'ack' })
    expect(node(m)).toMatchObject({
      status: 'failed',
      credentialsMinted: 0,
      lastError: expect.stringMatching(/^node_path: .*dns_records -> HTTP 403: 10000: Authentication error/),
    })
    expect(sky.launches(m.cluster_name)).toBe(0)
    // The Access app and tunnel made before the DNS call failed were removed; nothing is left.
    expect(cloudflare()).toEqual(EMPTY)
    expect(cf.failures.map((f) => f.stage)).toContain('create')
    expect(cp.nodePathFailures.at(-1)).toBe('create') // reported, so the Worker counts it (cic_node_path_failures_total)
  })

  it('retries later, as a new attempt, while the Cloudflare API is unreachable', async () => {
    const m = launchMessage()
    const unreachable = cf.nodePathWith(NODE_PATH_TOKEN)
    await cf.close() // the API is gone
    expect(await runLaunch(m, 1, { ...deps(), nodePath: unreachable })).toEqual({ kind: 'retry', delaySeconds: 30 })
    expect(node(m)).toMatchObject({ status: 'queued', lastError: expect.stringMatching(/^node_path: Cloudflare API unreachable .*retrying in 30s/) })
    expect(sky.launches(m.cluster_name)).toBe(0)
    cf = await cloudflareEnv()
    expect(await runLaunch(m, 2, deps())).toEqual({ kind: 'ack' })
    expect(node(m).status).toBe('warming')
  })

  it('a terminate whose cleanup fails is retried, and reports terminated only when nothing is left', async () => {
    const m = launchMessage()
    await runLaunch(m, 1, deps())
    node(m).status = 'draining'
    const api = cf.nodePathWith(NODE_PATH_TOKEN)
    const failing = { ...api, remove: async () => Promise.reject(new Error('Cloudflare API unreachable (test)')) }
    expect(await runTerminate(terminateMessage(m), 1, { ...deps(), nodePath: failing })).toEqual({ kind: 'retry', delaySeconds: 30 })
    expect(node(m)).toMatchObject({ status: 'terminating', lastError: expect.stringContaining('node_path cleanup failed') })
    expect(cp.nodePathFailures.at(-1)).toBe('cleanup')
    expect(cloudflare().tunnels).toHaveLength(1)
    expect(await runTerminate(terminateMessage(m), 2, deps())).toEqual({ kind: 'ack' })
    expect(node(m).status).toBe('terminated')
    expect(cloudflare()).toEqual(EMPTY)
  })
})

describe('launch policy in the runner (defence in depth)', () => {
  it.each([
    [{ vllm_args: ['--api_key=x'] }, /^refused by the runner \(vllm_args\.0\): --api_key is set by the launch template/],
    [{ vllm_args: ['-tp=1'] }, /short options/],
    [{ vllm_args: ['--trust-remote-code'] }, /allow_remote_code: true/],
    [{ provider: 'runpod' as const }, /\(provider\): 'runpod' maps node ports/],
  ])('fails the node with the reason and launches nothing for %j', async (spec, reason) => {
    const m = launchMessage()
    const refused = { ...m, spec: { ...m.spec, ...spec } }
    expect(await runLaunch(refused, 1, deps())).toEqual({ kind: 'ack' })
    expect(node(m)).toMatchObject({ status: 'failed', lastError: expect.stringMatching(reason), credentialsMinted: 0 })
    expect(sky.launches(m.cluster_name)).toBe(0)
    expect(sky.calls()).toEqual([['down', '-y', m.cluster_name]]) // only makes sure nothing runs under the name
  })

  it('launches --trust-remote-code when the launch allows remote code', async () => {
    const m = launchMessage()
    expect(await runLaunch({ ...m, spec: { ...m.spec, vllm_args: ['--trust-remote-code'], allow_remote_code: true } }, 1, deps())).toEqual({ kind: 'ack' })
    expect(node(m).status).toBe('warming')
  })
})

describe('terminate', () => {
  it('tears the cluster down, stops the node and reports terminated; a redelivery does nothing', async () => {
    const m = launchMessage()
    await runLaunch(m, 1, deps())
    const endpoint = node(m).endpoint as string
    node(m).status = 'draining' // what POST /admin/nodes/:cluster/terminate does
    expect(await runTerminate(terminateMessage(m), 1, deps())).toEqual({ kind: 'ack' })
    expect(node(m).status).toBe('terminated')
    expect(sky.calls().at(-1)).toEqual(['down', '-y', m.cluster_name])
    expect(sky.clusters()).toEqual([])
    expect(cloudflare()).toEqual(EMPTY) // no tunnel, DNS record or Access app left
    expect((await fetch(`${endpoint}/health`, { headers: cf.gatewayHeaders })).status).toBe(530) // the hostname is gone
    const calls = sky.calls().length
    expect(await runTerminate(terminateMessage(m), 2, deps())).toEqual({ kind: 'ack' })
    expect(sky.calls().length).toBe(calls)
  })

  it('retries a failed sky down with backoff, then succeeds', async () => {
    const m = launchMessage()
    await runLaunch(m, 1, deps())
    node(m).status = 'draining'
    sky.setKnobs({ failDownTimes: 1 })
    expect(await runTerminate(terminateMessage(m), 1, deps())).toEqual({ kind: 'retry', delaySeconds: 30 })
    expect(node(m)).toMatchObject({ status: 'terminating', lastError: expect.stringContaining('sky down failed') })
    expect(await runTerminate(terminateMessage(m), 2, deps())).toEqual({ kind: 'ack' })
    expect(node(m).status).toBe('terminated')
  })

  it('tears down the cluster of a node the control plane failed (launch deadline, spot preemption)', async () => {
    const m = launchMessage()
    await runLaunch(m, 1, deps())
    node(m).status = 'failed' // what the NodeMonitor does before it queues this terminate
    expect(await runTerminate(terminateMessage(m), 1, deps())).toEqual({ kind: 'ack' })
    expect(sky.calls().at(-1)).toEqual(['down', '-y', m.cluster_name])
    expect(sky.clusters()).toEqual([])
    expect(node(m).status).toBe('terminated')
  })

  it('leaves a relaunched node alone when an old terminate is redelivered', async () => {
    const m = launchMessage()
    await runLaunch(m, 1, deps())
    expect(await runTerminate(terminateMessage(m), 3, deps())).toEqual({ kind: 'ack' })
    expect(node(m).status).toBe('warming')
    expect(sky.calls().some((argv) => argv[0] === 'down')).toBe(false)
  })
})

describe('dispatcher', () => {
  const pulled = (body: unknown, attempts = 1) => ({ id: `msg-${++n}`, leaseId: `lease-${n}`, attempts, timestampMs: Date.now(), body })

  it('drops (acks) a message that does not match the node-ops contract', async () => {
    const dispatch = createDispatcher(deps())
    expect(await dispatch(pulled({ op: 'reboot', cluster_name: 'cic-a100-00000000' }))).toEqual({ kind: 'ack' })
    expect(await dispatch({ ...pulled(undefined), decodeError: 'undecodable json body' })).toEqual({ kind: 'ack' })
  })

  it('runs one job per cluster at a time: a second message for a busy cluster comes back later', async () => {
    sky.setKnobs({ delayMs: 2_000 })
    const dispatch = createDispatcher(deps())
    const m = launchMessage()
    const first = dispatch(pulled(m))
    await new Promise((r) => setTimeout(r, 200))
    expect(await dispatch(pulled(terminateMessage(m)))).toEqual({ kind: 'retry', delaySeconds: 60 })
    expect(await first).toEqual({ kind: 'ack' })
  })

  it('retries soon when the control plane is unreachable', async () => {
    const dispatch = createDispatcher({ ...deps(), controlPlane: createControlPlane({ baseUrl: 'http://127.0.0.1:9', runnerToken: RUNNER_TOKEN }) })
    expect(await dispatch(pulled(launchMessage()))).toEqual({ kind: 'retry', delaySeconds: 30 })
  })
})
