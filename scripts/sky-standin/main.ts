// SkyPilot CLI stand-in (`sky` on PATH for tests and local dev): the subset orchestrator-runner uses —
// `launch -y -d -c NAME task.yaml --secret NAME...`, `status --ip NAME`, `status [NAME...]`, `down -y NAME...` —
// with SkyPilot's exit codes and messages. It validates the task against SkyPilot's schema, simulates
// failures and slowness (knobs, see README.md), and on success runs a vLLM stand-in "node" that registers.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { registrationSnippet } from '../../orchestrator-runner/src/skypilot/task-yaml.ts'
import { freePort, killNode, runRegistration, startTunnel, startVllmNode, stopNode, writeSecretsDir } from './node.ts'
import {
  type ClusterRecord,
  consumeKnob,
  ensureStateDir,
  type LaunchFailure,
  listClusters,
  readCluster,
  readKnobs,
  recordCall,
  removeCluster,
  stateDir,
  writeCluster,
} from './state.ts'
import { validateTask } from './task-schema.ts'

const FAILURES: Record<LaunchFailure, string> = {
  capacity:
    "sky.exceptions.ResourcesUnavailableError: Failed to provision all possible launchable resources. Relax the task's resource requirements: 1x AWS({'A100-80GB': 1})\nReason: InsufficientInstanceCapacity: We currently do not have sufficient p4de.24xlarge capacity in the Availability Zone you requested.",
  quota:
    'sky.exceptions.ResourcesUnavailableError: Failed to acquire resources in all zones in us-east-1.\nReason: VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit of 0 allows. Request a quota increase.',
  auth: 'sky.exceptions.CloudUserIdentityError: Failed to get AWS user identity: AWS credentials are not set. Run `aws configure` and `sky check aws`.',
  error: 'RuntimeError: Failed to run command before rsync: unexpected error in the stand-in.',
  setup:
    'sky.exceptions.CommandError: Command bash setup.sh failed with return code 1.\nFailed to setup with return code 1. Check the details in log: ~/sky_logs/setup.log',
  unsatisfiable: '', // unsatisfiableMessage(): it names the task and region
}

type Resources = { infra?: string; accelerators?: Record<string, number> | string }

/** SkyPilot's optimizer when the catalog has nothing for the request (sky/optimizer.py), before any provisioning. */
function unsatisfiableMessage(cluster: string, resources: Resources | undefined): string {
  const region = resources?.infra?.split('/')[1]
  return `sky.exceptions.ResourcesUnavailableError: No launchable resource found for task ${cluster}.${region ? ` Region: ${region}.` : ''}
This means the catalog does not contain any resources that satisfy this request.
To fix: relax or change the resource requirements.
Hint: 'sky show-gpus --all' to list available accelerators.
      'sky check' to check the enabled clouds.`
}

/** What the real catalog never offers and the stand-in knows of: AWS sells A100s only 8 per machine (p4d/p4de). */
function isCatalogImpossible(resources: Resources | undefined): boolean {
  const cloud = resources?.infra?.split('/')[0]?.toLowerCase()
  const accelerators = typeof resources?.accelerators === 'object' ? Object.entries(resources.accelerators) : []
  return cloud === 'aws' && accelerators.some(([name, count]) => /^A100(?:-|$)/i.test(name) && count !== 8)
}

type Task = { run?: string; envs?: Record<string, string | null>; secrets?: Record<string, string | null>; resources?: Resources & { use_spot?: boolean } }

const fail = (code: number, message: string): never => {
  process.stderr.write(`${message}\n`)
  process.exit(code)
}

function parseLaunch(args: string[]) {
  const flags = new Set<string>()
  const secrets: Record<string, string> = {}
  let cluster = ''
  let taskPath = ''
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '-y' || arg === '--yes' || arg === '-d' || arg === '--detach-run') flags.add(arg.startsWith('--') ? (arg === '--yes' ? '-y' : '-d') : arg)
    else if (arg === '-c' || arg === '--cluster') cluster = args[++i] ?? ''
    else if (arg === '--secret') {
      const spec = args[++i] ?? ''
      const [name, ...rest] = spec.split('=')
      const value = rest.length > 0 ? rest.join('=') : process.env[name as string]
      if (value === undefined) fail(2, `Error: Invalid value for '--secret': ${name} is not set in local environment.`)
      secrets[name as string] = value as string
    } else if (arg.startsWith('-')) fail(2, `Error: the sky stand-in does not support option ${arg}`)
    else taskPath = arg
  }
  if (!flags.has('-y') || !flags.has('-d')) fail(2, 'Error: the sky stand-in requires -y and -d (a vLLM server job never ends).')
  if (!cluster || !taskPath) fail(2, 'Error: the sky stand-in requires -c NAME and a task YAML.')
  return { cluster, taskPath, secrets }
}

async function launch(args: string[]): Promise<void> {
  const { cluster, taskPath, secrets } = parseLaunch(args)
  const taskText = readFileSync(taskPath, 'utf8')
  const task = parse(taskText) as Task
  const problems = validateTask(task)
  if (problems) fail(1, `ValueError: Invalid task YAML (SkyPilot schema):\n  ${problems.join('\n  ')}`)
  const missing = Object.entries(task.secrets ?? {})
    .filter(([name, v]) => v === null && !(name in secrets))
    .map(([name]) => name)
  if (missing.length > 0) fail(1, `ValueError: Secret variable(s) ${missing.join(', ')} have no value: pass them with --secret.`)

  // `sky launch` refreshes an existing spot cluster first (backend_utils.refresh_cluster_record always refreshes
  // use_spot clusters): a preempted one is gone (terminated) or STOPPED, and is provisioned again.
  const existing = refreshed(readCluster(cluster))
  if (existing?.status === 'UP') {
    // SkyPilot reuses an UP cluster and runs the task again as a new job; count it so tests can see it.
    writeCluster({ ...existing, jobs: existing.jobs + 1 })
    console.log(`Cluster ${cluster} already exists; submitted job ${existing.jobs + 1}.`)
    return
  }
  const knobs = readKnobs()
  // The optimizer runs before any cluster record exists: nothing to clean up, and no retry can help.
  if (isCatalogImpossible(task.resources) || (knobs.fail === 'unsatisfiable' && consumeKnob('fail', knobs.failTimes))) {
    fail(1, unsatisfiableMessage(cluster, task.resources))
  }
  const useSpot = task.resources?.use_spot === true
  writeFileSync(path.join(stateDir(), `${cluster}.task.yaml`), taskText) // what was launched (it holds no secret)
  writeCluster({ name: cluster, status: 'INIT', pid: null, endpoint: null, launchedAt: Date.now(), jobs: 0, useSpot })
  if (knobs.delayMs) await new Promise((r) => setTimeout(r, knobs.delayMs))
  if (knobs.fail && knobs.fail !== 'unsatisfiable' && consumeKnob('fail', knobs.failTimes)) {
    if (knobs.fail !== 'setup') removeCluster(cluster) // failed provisioning is cleaned up; failed setup is not
    fail(1, FAILURES[knobs.fail])
  }

  const envs = Object.fromEntries(Object.entries(task.envs ?? {}).filter((e): e is [string, string] => e[1] !== null))
  const edgeUrl = process.env.CLOUDFLARED_STANDIN_EDGE
  if (secrets.CIC_TUNNEL_TOKEN && !edgeUrl) {
    removeCluster(cluster)
    fail(1, 'sky stand-in: the task runs cloudflared but CLOUDFLARED_STANDIN_EDGE (the Cloudflare stand-in edge URL) is not set')
  }
  const node = await startVllmNode(cluster, envs.MODEL_NAME ?? 'cic-demo-llm', secrets.VLLM_API_KEY ?? '')
  const metricsPort = await freePort()
  const tunnelPid = secrets.CIC_TUNNEL_TOKEN
    ? startTunnel(cluster, secrets.CIC_TUNNEL_TOKEN, edgeUrl as string, node.port, Number(envs.CIC_VLLM_PORT ?? 8000), metricsPort)
    : null
  writeCluster({ name: cluster, status: 'UP', pid: node.pid, tunnelPid, endpoint: node.url, launchedAt: Date.now(), jobs: 1, useSpot })
  console.log(`✓ Cluster launched: ${cluster}.\nJob submitted, ID: 1`)
  const snippet = registrationSnippet(task.run ?? '')
  if (!snippet) return void process.stderr.write('sky stand-in: the run script has no cic-register block; the node will not register\n')
  const registered = runRegistration(
    snippet,
    {
      ...envs,
      CIC_SECRETS_DIR: writeSecretsDir(cluster, secrets),
      CIC_VLLM_PORT: String(node.port),
      CIC_TUNNEL_METRICS_PORT: String(metricsPort),
      VLLM_PID: String(node.pid),
      CIC_HEALTH_WAIT_SECONDS: '30',
    },
    cluster,
  )
  // Like `sky launch -d`, success means "submitted": a failed registration is the node's problem, not launch's.
  if (!registered.ok) process.stderr.write(`sky stand-in: the node's registration step failed:\n${registered.output}\n`)
}

/**
 * What a refresh reads from the "cloud" (SkyPilot: backend_utils._update_cluster_status_no_lock). A preempted
 * instance that was terminated leaves no node: the record is removed (post_teardown_cleanup(terminate=True)) and
 * the cluster is gone; a stopped one (a spot instance whose interruption behaviour is "stop") reads STOPPED.
 */
function refreshed(record: ClusterRecord | null): ClusterRecord | null {
  if (!record?.preempted) return record
  if (record.preempted.action === 'terminated') {
    removeCluster(record.name)
    return null
  }
  const stopped: ClusterRecord = { ...record, status: 'STOPPED', pid: null }
  writeCluster(stopped)
  return stopped
}

/**
 * `sky status` reads SkyPilot's cached state (refresh mode NONE); `-r/--refresh` queries the cloud (FORCE), and
 * `--ip` with `--refresh` is a usage error (sky/client/cli/command.py `status`, skypilot-org/skypilot@00526108).
 */
function status(args: string[]): void {
  const names = args.filter((a) => !a.startsWith('-'))
  const refresh = args.includes('-r') || args.includes('--refresh')
  if (args.includes('--ip')) {
    if (refresh) fail(2, 'Error: Using --ip or --endpoint(s) with --refresh is notsupported for now. To fix, refresh first, then query the IP or endpoint.')
    const [name] = names
    const record = name ? readCluster(name) : null
    if (!record)
      fail(1, `ValueError: '${name}' cluster not found. Please specify a single cluster to show its IP address.\nUsage: \`sky status --ip <cluster>\``)
    if (record?.status !== 'UP') fail(1, `RuntimeError: Cluster '${name}' is not in UP status.`)
    console.log(new URL(record?.endpoint ?? 'http://127.0.0.1').hostname)
    return
  }
  const cached = listClusters().filter((c) => names.length === 0 || names.includes(c.name))
  const notFound = names.filter((n) => !cached.some((c) => c.name === n))
  if (notFound.length > 0) console.log(`Cluster(s) not found: ${notFound.join(', ')}.`)
  let rows = cached
  if (refresh) {
    rows = cached.map(refreshed).filter((c) => c !== null)
    const terminated = cached.filter((c) => !rows.some((r) => r.name === c.name)).map((c) => c.name)
    // backend_utils.get_clusters: records that vanished on refresh (and were not autodowned) are reported so.
    if (terminated.length > 0) console.log(`Cluster${terminated.length > 1 ? 's' : ''} terminated on the cloud: ${terminated.join(', ')}`)
  }
  console.log(
    ['NAME  LAUNCHED  STATUS  ENDPOINT', ...rows.map((c) => `${c.name}  ${new Date(c.launchedAt).toISOString()}  ${c.status}  ${c.endpoint ?? '-'}`)].join(
      '\n',
    ),
  )
}

/**
 * Stand-in only (SkyPilot has no such command): the cloud preempts the cluster's spot instance. The node's
 * processes die at once (SIGKILL: the instance is gone, vLLM gets no graceful shutdown); SkyPilot's cached record
 * is untouched (still UP) until a refresh. `--stop` plays a provider that stops rather than terminates.
 */
function preempt(args: string[]): void {
  const names = args.filter((a) => !a.startsWith('-'))
  if (names.length !== 1) fail(2, 'Error: usage: sky preempt CLUSTER [--stop]')
  const record = readCluster(names[0] as string)
  if (!record) fail(1, `Cluster '${names[0]}' not found (tip: see \`sky status\`).`)
  const cluster = record as ClusterRecord
  if (cluster.status !== 'UP' || cluster.preempted)
    fail(1, `Cluster '${cluster.name}' has no running instance to preempt (status ${cluster.status}${cluster.preempted ? ', already preempted' : ''}).`)
  killNode(cluster.pid)
  killNode(cluster.tunnelPid ?? null)
  writeCluster({ ...cluster, pid: null, tunnelPid: null, preempted: { at: Date.now(), action: args.includes('--stop') ? 'stopped' : 'terminated' } })
  console.log(
    `Preempted cluster ${cluster.name}${cluster.useSpot ? '' : ' (note: not a spot cluster)'}: its node is gone; \`sky status\` still shows the cached UP until \`sky status -r\`.`,
  )
}

function down(args: string[]): void {
  if (!args.includes('-y') && !args.includes('--yes')) fail(2, 'Error: the sky stand-in requires -y.')
  const found = args
    .filter((a) => !a.startsWith('-'))
    .map(readCluster)
    .filter((c) => c !== null)
  if (found.length === 0) return void console.log('Cluster(s) not found (tip: see `sky status`).')
  if (consumeKnob('failDown', readKnobs().failDownTimes ?? 0))
    fail(1, 'sky.exceptions.CloudError: Failed to terminate instances: RequestLimitExceeded (stand-in knob failDownTimes).')
  for (const cluster of found) {
    stopNode(cluster.pid)
    stopNode(cluster.tunnelPid ?? null)
    removeCluster(cluster.name)
    console.log(`Terminating cluster ${cluster.name}...done.`)
  }
}

const [command = '', ...rest] = process.argv.slice(2)
ensureStateDir()
recordCall([command, ...rest])
if (command === 'launch') await launch(rest)
else if (command === 'status') status(rest)
else if (command === 'down') down(rest)
else if (command === 'preempt') preempt(rest)
else fail(2, `Error: the sky stand-in does not implement \`sky ${command}\` (launch, status, down, preempt only).`)
