// Admin side of launched GPU nodes: record a launch and enqueue it for orchestrator-runner, drain and enqueue a
// terminate, relaunch a failed or terminated node, and the status view. The runner does the cloud work; the
// node row is the state everyone reads. Called by routes/admin/node-launches.ts.
import type { Db } from '../../db/client.ts'
import { nodeLaunches, nodes, type NodeLaunchRow, type NodeRow } from '../../db/schema.ts'
import { jitteredRetryAfter } from '../../dependency.ts'
import { ApiError } from '../../errors.ts'
import { log } from '../../log.ts'
import { launchPolicyProblem, type LaunchMessage, type NodeLaunchSpec, type NodeOpMessage, type TerminateMessage } from '../../schemas/node-ops.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import { countDependencyFailure } from '../metrics/record-metrics.ts'
import { newId, type Actor } from '../tenants/tenants.ts'
import { invalidateNodeDirectory } from './node-directory.ts'
import { monitorOf, startNodeMonitor } from './node-monitor-client.ts'
import { findNodeByName, transitionNode, updateLaunch, type LaunchedNode, type TransitionResult } from './node-launch-store.ts'

export const nodeStatusView = ({ node, launch }: LaunchedNode) => ({
  object: 'node.status',
  cluster_name: node.name,
  node_id: node.id,
  status: node.status,
  last_error: node.lastError,
  endpoint: node.endpoint || null,
  models: node.models,
  provider: node.provider,
  region: node.region,
  gpu: node.gpu,
  launched_by_cic: launch !== null,
  attempts: launch?.attempts ?? 0,
  spec: launch?.spec ?? null,
  created_at: node.createdAt,
  updated_at: node.updatedAt,
})

/** `cic-<gpu>-<8 hex>`: valid as a SkyPilot cluster name on every cloud (short, starts with a letter, ends alphanumeric). */
export function newClusterName(gpu: string): string {
  const slug = gpu
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 16)
    .replace(/^-+|-+$/g, '')
  return `cic-${slug || 'gpu'}-${crypto.randomUUID().replaceAll('-', '').slice(0, 8)}`
}

async function enqueue(env: Env, message: NodeOpMessage): Promise<void> {
  await env.NODE_OPS.send(message, { contentType: 'json' })
}

export async function launchNode(env: Env, db: Db, spec: NodeLaunchSpec, by: Actor): Promise<LaunchedNode> {
  const now = Date.now()
  const clusterName = newClusterName(spec.gpu)
  const node: NodeRow = {
    id: newId('node'),
    name: clusterName,
    endpoint: '',
    models: [spec.model],
    status: 'queued',
    provider: spec.provider,
    region: spec.region ?? null,
    gpu: `${spec.gpu}:${spec.gpu_count}`,
    engine: 'vllm',
    apiKeyCiphertext: null,
    lastError: null,
    createdAt: now,
    updatedAt: null,
  }
  const launch: NodeLaunchRow = {
    clusterName,
    nodeId: node.id,
    spec,
    registerTokenHash: null,
    endpoint: null,
    attempts: 0,
    createdAt: now,
    updatedAt: null,
    fleetModel: null,
    fleetPlacement: null,
  }
  await db.batch([
    db.insert(nodes).values(node),
    db.insert(nodeLaunches).values(launch),
    auditStatement(db, { ...by, action: 'node.launch', target: node.id, after: { cluster_name: clusterName, spec } }),
  ])
  invalidateNodeDirectory()
  const message: LaunchMessage = { op: 'launch', cluster_name: clusterName, node_id: node.id, spec, requested_at: now }
  try {
    await enqueue(env, message)
  } catch (err) {
    log.error('node_launch_enqueue_failed', { clusterName, error: String(err) })
    countDependencyFailure('queue')
    const failed = await transitionNode(db, clusterName, { type: 'runner', status: 'failed' }, { lastError: 'The launch could not be queued; relaunch it.' })
    if (failed?.applied) await auditTransition(db, by, 'node.launch_enqueue_failed', failed)
    throw new ApiError('upstream_unavailable', 'The launch could not be queued. The node is marked failed; relaunch it.', {
      code: 'queue_unavailable',
      headers: jitteredRetryAfter(5),
    })
  }
  await watchLaunch(env, node.id)
  return { node, launch }
}

/**
 * Starts the node's monitor from the launch on: it fails an attempt that outlives NODE_LAUNCH_TIMEOUT_MS and
 * tears down a launched node that fails. Best effort: reading the node later (admin views) starts it too.
 */
async function watchLaunch(env: Env, nodeId: string): Promise<void> {
  try {
    await startNodeMonitor(env, nodeId)
  } catch (err) {
    log.error('node_monitor_start_failed', { nodeId, error: String(err) })
  }
}

async function requireLaunched(db: Db, clusterName: string): Promise<LaunchedNode & { launch: NodeLaunchRow }> {
  const found = await findNodeByName(db, clusterName)
  if (!found) throw new ApiError('not_found', `No node named '${clusterName}'.`, { code: 'node_not_found', param: 'cluster_name' })
  if (!found.launch) {
    throw new ApiError('conflict', `Node '${clusterName}' was registered by hand, not launched by CIC; remove it with DELETE /admin/nodes/${found.node.id}.`, {
      code: 'node_not_launched',
    })
  }
  return { node: found.node, launch: found.launch }
}

/**
 * Takes the node out of routing at once ('draining') and hands the terminate to the node's monitor, which
 * sends it to the runner (`sky down`) once vLLM reports nothing running or waiting (or the node is
 * unreachable, or NODE_DRAIN_TIMEOUT_MS passed). Repeating it is safe (sky down is idempotent).
 */
export async function terminateNode(env: Env, db: Db, clusterName: string, by: Actor): Promise<LaunchedNode> {
  const { node } = await requireLaunched(db, clusterName)
  const result = await transitionNode(db, clusterName, { type: 'terminate_requested' })
  if (!result?.applied) throw new ApiError('conflict', `Node '${clusterName}' is already terminated.`, { code: 'node_terminated' })
  await auditTransition(db, by, 'node.terminate', result)
  const message: TerminateMessage = { op: 'terminate', cluster_name: clusterName, node_id: node.id, requested_at: Date.now() }
  try {
    await monitorOf(env, node.id).requestTermination(node.id, message)
  } catch (err) {
    log.error('node_terminate_handoff_failed', { clusterName, error: String(err) })
    throw new ApiError('upstream_unavailable', 'The node is draining but its terminate could not be scheduled; repeat the request.', {
      code: 'terminate_not_scheduled',
      headers: { 'retry-after': '5' },
    })
  }
  return result
}

/** A launched node can only be forgotten once nothing runs in the cloud for it (terminated, or a failed launch). */
export async function assertNodeRemovable(db: Db, node: NodeRow): Promise<void> {
  const found = await findNodeByName(db, node.name)
  if (found?.launch && found.node.status !== 'terminated' && found.node.status !== 'failed') {
    throw new ApiError(
      'conflict',
      `Node '${node.name}' was launched by CIC and is ${found.node.status}; terminate it first (POST /admin/nodes/${node.name}/terminate).`,
      { code: 'node_still_launched' },
    )
  }
}

/** Launches a failed or terminated node again under the same name, with fresh credentials minted by the runner. */
export async function relaunchNode(env: Env, db: Db, clusterName: string, by: Actor): Promise<LaunchedNode> {
  const { node, launch } = await requireLaunched(db, clusterName)
  // A spec stored before a launch rule existed (vllm_args allowlist, providers) is refused as a new launch would be.
  const refused = launchPolicyProblem(launch.spec)
  if (refused) {
    throw new ApiError(
      'invalid_request',
      `Node '${clusterName}' cannot be relaunched with its spec: ${refused.param}: ${refused.message}. Launch a new node instead.`,
      { code: 'invalid_launch_spec', param: refused.param },
    )
  }
  const result = await transitionNode(db, clusterName, { type: 'relaunch_requested' }, { lastError: null })
  if (!result?.applied) {
    throw new ApiError(
      'conflict',
      `Node '${clusterName}' is ${result?.node.status ?? node.status}; only failed or terminated nodes can be relaunched (terminate it first).`,
      { code: 'node_not_relaunchable' },
    )
  }
  // The previous attempt's registration token dies here (a node failed by its monitor still had one): only the
  // token minted for the new attempt can register the node.
  await updateLaunch(db, clusterName, { registerTokenHash: null })
  await auditTransition(db, by, 'node.relaunch', result)
  const message: LaunchMessage = { op: 'launch', cluster_name: clusterName, node_id: node.id, spec: launch.spec, requested_at: Date.now() }
  try {
    await enqueue(env, message)
  } catch (err) {
    log.error('node_relaunch_enqueue_failed', { clusterName, error: String(err) })
    countDependencyFailure('queue')
    const failed = await transitionNode(
      db,
      clusterName,
      { type: 'runner', status: 'failed' },
      { lastError: 'The relaunch could not be queued; relaunch it again.' },
    )
    if (failed?.applied) await auditTransition(db, by, 'node.relaunch_enqueue_failed', failed)
    throw new ApiError('upstream_unavailable', 'The relaunch could not be queued; repeat the request.', {
      code: 'queue_unavailable',
      headers: jitteredRetryAfter(5),
    })
  }
  await watchLaunch(env, node.id)
  return result
}

// Lifecycle changes are compare-and-set updates, so their audit row follows the change that succeeded instead of
// sharing its batch (a batch would also write the audit row of a change that lost the race).
async function auditTransition(db: Db, by: Actor, action: string, result: TransitionResult): Promise<void> {
  await auditStatement(db, { ...by, action, target: result.node.id, before: { status: result.from }, after: { status: result.node.status } }).run()
}
