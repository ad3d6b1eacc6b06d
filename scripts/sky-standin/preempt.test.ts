// `sky preempt CLUSTER`: the node dies at once; SkyPilot's cached view (`sky status`, `sky status --ip`) still says
// UP, the refreshed view (`sky status -r`) drops a terminated cluster (or shows STOPPED), and `sky launch` on the
// same name provisions again instead of reusing a dead cluster.
import { spawnSync } from 'node:child_process'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createControlPlane } from '../../orchestrator-runner/src/control-plane/client.ts'
import type { JobDeps } from '../../orchestrator-runner/src/jobs/job.ts'
import { runLaunch } from '../../orchestrator-runner/src/jobs/launch.ts'
import { silentLog } from '../../orchestrator-runner/src/log.ts'
import { createSkyCli } from '../../orchestrator-runner/src/skypilot/cli.ts'
import { buildTask, renderTaskYaml } from '../../orchestrator-runner/src/skypilot/task-yaml.ts'
import { RUNNER_TOKEN, startFakeControlPlane, type FakeControlPlane } from '../../orchestrator-runner/test/fake-control-plane.ts'
import { cloudflareEnv, type CloudflareEnv } from '../../orchestrator-runner/test/cloudflare-env.ts'
import { skyStandinEnv, type SkyStandinEnv } from '../../orchestrator-runner/test/sky-standin-env.ts'
import type { LaunchMessage } from '../../workers/src/schemas/node-ops.ts'

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

const run = (...args: string[]) => {
  const r = spawnSync('sky', args, { env: { ...sky.env, ...cf.skyEnv }, encoding: 'utf8' })
  return { code: r.status, out: `${r.stdout}${r.stderr}` }
}

function deps(): JobDeps {
  return {
    sky: createSkyCli({ bin: 'sky', env: { ...sky.env, ...cf.skyEnv }, launchTimeoutMs: 60_000, downTimeoutMs: 30_000, statusTimeoutMs: 30_000 }),
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

async function launchSpot(): Promise<{ cluster: string; endpoint: string; key: string }> {
  const cluster = `cic-spot-${String(++n).padStart(8, '0')}`
  cp.addNode(cluster, 'queued')
  const m: LaunchMessage = {
    op: 'launch',
    cluster_name: cluster,
    node_id: `node_${cluster}`,
    requested_at: Date.now(),
    spec: { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', gpu_count: 1, model: `model-${n}`, use_spot: true, disk_size: 256, vllm_args: [] },
  }
  expect(await runLaunch(m, 1, deps())).toEqual({ kind: 'ack' })
  const node = cp.nodes.get(cluster)
  return { cluster, endpoint: node?.endpoint as string, key: node?.vllmApiKey as string }
}

/** Through the tunnel (with the gateway's service token): 200 while the node serves, 530 once its connector is gone. */
const reachable = (endpoint: string, key: string) =>
  fetch(`${endpoint}/health`, { headers: { ...cf.gatewayHeaders, authorization: `Bearer ${key}` } }).then(
    (r) => r.status,
    () => 'unreachable',
  )

describe('sky preempt', () => {
  it('kills the node; the cached status stays UP, the refreshed one drops the terminated cluster', async () => {
    const { cluster, endpoint, key } = await launchSpot()
    await vi.waitFor(async () => expect(await reachable(endpoint, key)).toBe(200), { timeout: 10_000 }) // its cloudflared connected

    const preempted = run('preempt', cluster)
    expect(preempted.code).toBe(0)
    await vi.waitFor(async () => expect(await reachable(endpoint, key)).toBe(530), { timeout: 10_000 }) // the tunnel lost its connector

    // Cached view (refresh mode NONE): what SkyPilot last recorded.
    expect(run('status', cluster).out).toMatch(new RegExp(`${cluster}\\s+\\S+\\s+UP`))
    expect(run('status', '--ip', cluster)).toEqual({ code: 0, out: '127.0.0.1\n' })
    expect(await deps().sky.clusterState(cluster)).toBe('up') // the runner's own check cannot see a preemption
    expect(run('status', '--ip', '-r', cluster)).toMatchObject({ code: 2, out: expect.stringContaining('with --refresh is not') })

    // Refreshed view: no instance left, the record is removed, and it says so.
    const refreshed = run('status', '-r')
    expect(refreshed.out).toContain(`Cluster terminated on the cloud: ${cluster}`)
    expect(refreshed.out).not.toMatch(new RegExp(`^${cluster}\\s`, 'm'))
    expect(sky.clusters()).toEqual([])
    expect(await deps().sky.clusterState(cluster)).toBe('absent')
    // Nothing left to preempt or to tear down.
    expect(run('preempt', cluster).code).toBe(1)
    expect(run('down', '-y', cluster).out).toContain('Cluster(s) not found')
  })

  it('--stop leaves a STOPPED cluster after a refresh (a provider that stops preempted instances)', async () => {
    const { cluster } = await launchSpot()
    expect(run('preempt', cluster, '--stop').code).toBe(0)
    expect(run('status', '--refresh', cluster).out).toMatch(new RegExp(`${cluster}\\s+\\S+\\s+STOPPED`))
    expect(await deps().sky.clusterState(cluster)).toBe('not_up')
    expect(run('preempt', cluster).code).toBe(1)
  })

  it('a launch on a preempted name provisions a new node instead of reusing the dead one', async () => {
    const first = await launchSpot()
    run('preempt', first.cluster)
    const node = cp.nodes.get(first.cluster) as NonNullable<ReturnType<typeof cp.nodes.get>>
    node.status = 'launching' // so the new node's registration is accepted
    const task = renderTaskYaml(
      buildTask(
        {
          op: 'launch',
          cluster_name: first.cluster,
          node_id: `node_${first.cluster}`,
          requested_at: Date.now(),
          spec: { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', gpu_count: 1, model: 'model-again', use_spot: true, disk_size: 256, vllm_args: [] },
        },
        deps().task,
        first.endpoint,
      ),
    )
    // The runner would make a new tunnel for the new attempt; here the node reuses the one the cluster had.
    const grant = await cf.nodePath.create(first.cluster)
    node.expectedEndpoint = grant.endpoint
    const secrets = { CIC_REGISTER_TOKEN: node.registerToken as string, VLLM_API_KEY: node.vllmApiKey as string, CIC_TUNNEL_TOKEN: grant.tunnelToken }
    expect((await deps().sky.launch(first.cluster, task, secrets)).exitCode).toBe(0)
    expect(sky.clusters()).toEqual([expect.objectContaining({ name: first.cluster, status: 'UP', jobs: 1 })])
    expect(sky.clusters()[0]?.preempted).toBeUndefined()
    await vi.waitFor(async () => expect(await reachable(node.endpoint as string, node.vllmApiKey as string)).toBe(200), { timeout: 10_000 })
  })
})
