// Launch job: make the node's SkyPilot cluster exist, exactly once per launch attempt. The control plane decides
// whether the launch is still wanted and whether this delivery starts a new attempt (the node was `queued`) or
// repeats the attempt in progress (it was already `launching`). A new attempt replaces any cluster left under
// the name (a hung or preempted node being relaunched); a redelivery keeps an UP cluster (it must not start a
// second A100). Then fresh credentials are minted and `sky launch -d` runs. Failures are mapped to a node status
// with the reason: capacity is retried later with backoff, anything else fails the node. A cluster that cannot
// be torn down keeps its message in the queue (retried with backoff) until it is gone: a leaked A100 bills hourly.
// Each attempt gets its own private path (tunnel, Access app, DNS record: cloudflare/node-path.ts), created before
// the credentials so the control plane learns the endpoint first, and removed when the attempt fails.
import { launchPolicyProblem, type LaunchMessage } from '../../../workers/src/schemas/node-ops.ts'
import { isTransientNodePathError } from '../cloudflare/node-path.ts'
import { classifyLaunchFailure, tailOf } from '../skypilot/failures.ts'
import { buildTask, renderTaskYaml } from '../skypilot/task-yaml.ts'
import { ACK, backoffSeconds, retryIn, type JobDeps, type JobOutcome } from './job.ts'

const downRetry = (attempt: number, deps: JobDeps) => retryIn(backoffSeconds(attempt, 30, Math.min(600, deps.retryMaxSeconds)))
const isGone = (down: { exitCode: number | null; absent: boolean }) => down.exitCode === 0 || down.absent

export async function runLaunch(message: LaunchMessage, attempt: number, deps: JobDeps): Promise<JobOutcome> {
  const { sky, controlPlane, log, signal } = deps
  const cluster = message.cluster_name
  // Defence in depth: the launch API refuses these already (same rules, schemas/node-ops.ts); a message that got
  // past it, or a spec stored before a rule existed, fails the node here before any credential or cluster exists.
  const refused = launchPolicyProblem(message.spec)
  if (refused) {
    log.error('launch_refused_by_policy', { cluster, param: refused.param, reason: refused.message })
    await controlPlane.reportStatus(cluster, { status: 'failed', error: `refused by the runner (${refused.param}): ${refused.message}` })
    return tearDownLeftover(cluster, attempt, deps)
  }
  const started = await controlPlane.reportStatus(cluster, { status: 'launching' })
  if (!started.found || started.status === 'failed') {
    // A failed (or removed) node has nothing running for it by definition; this delivery may be the retry of a
    // failed launch whose cleanup did not work, so make sure of it.
    log.info('launch_not_wanted', { cluster, status: started.found ? started.status : 'unknown_node' })
    return tearDownLeftover(cluster, attempt, deps)
  }
  if (started.status !== 'launching') {
    log.info('launch_not_wanted', { cluster, status: started.status })
    return ACK
  }

  const isNewAttempt = started.previousStatus === 'queued'
  const state = await sky.clusterState(cluster, signal)
  if (state === 'up' && !isNewAttempt) {
    // Redelivery of a launch that already succeeded: the node is (or will be) registering by itself.
    log.info('launch_skipped_cluster_exists', { cluster })
    return ACK
  }
  if (state !== 'absent') {
    // A new attempt never reuses a cluster (it may be hung or preempted, and holds the previous attempt's
    // secrets); INIT/STOPPED means an earlier try died half-way. Start from nothing either way.
    log.warn(isNewAttempt ? 'launch_replacing_previous_cluster' : 'launch_replacing_unhealthy_cluster', { cluster, state })
    const down = await sky.down(cluster, signal)
    if (down.aborted) return retryIn(0)
    if (!isGone(down)) {
      // Back to queued, so the redelivery is a new attempt again and replaces the cluster rather than keeping it.
      await controlPlane.reportStatus(cluster, {
        status: 'queued',
        error: `could not remove the previous cluster (attempt ${attempt}, retrying): ${tailOf(down)}`,
      })
      return downRetry(attempt, deps)
    }
  }

  let grant: Awaited<ReturnType<JobDeps['nodePath']['create']>>
  try {
    grant = await deps.nodePath.create(cluster)
  } catch (err) {
    return nodePathFailed(cluster, attempt, err, deps)
  }
  const minted = await controlPlane.mintCredentials(cluster, grant.endpoint)
  if (!minted.ok) {
    log.info('launch_not_wanted', { cluster, reason: minted.reason, message: minted.message })
    await removeNodePath(cluster, deps)
    return ACK
  }
  const yaml = renderTaskYaml(buildTask(message, deps.task, grant.endpoint))
  const secrets = {
    ...deps.extraSecrets,
    CIC_REGISTER_TOKEN: minted.credentials.register_token,
    VLLM_API_KEY: minted.credentials.vllm_api_key,
    CIC_TUNNEL_TOKEN: grant.tunnelToken,
  }
  log.info('sky_launch_started', { cluster, attempt, gpu: message.spec.gpu, provider: message.spec.provider })
  const result = await sky.launch(cluster, yaml, secrets, signal)
  if (result.exitCode === 0) {
    log.info('sky_launch_succeeded', { cluster, attempt })
    return ACK
  }
  if (result.aborted) return retryIn(0) // shutting down: another runner takes it over

  const failure = classifyLaunchFailure(result)
  log.warn('sky_launch_failed', { cluster, attempt, kind: failure.kind, reason: failure.reason })
  // Whatever a failed launch left behind (a half-provisioned or set-up cluster) must not keep billing.
  const cleanup = await sky.down(cluster, signal)
  const isCleanedUp = isGone(cleanup)
  if (!isCleanedUp) log.error('sky_down_after_failed_launch_failed', { cluster, output: cleanup.stderr.slice(-500) })
  // Its tunnel token was handed to the failed attempt: the next attempt (or nothing) gets a new one.
  const cleanupFailure = (await removeNodePath(cluster, deps)) ? {} : ({ node_path_failure: 'cleanup' } as const)

  if (failure.isRetryable && attempt < deps.maxLaunchAttempts) {
    // The retry is a new attempt (the node is queued again): it removes a cluster this cleanup could not.
    const delaySeconds = backoffSeconds(attempt, deps.capacityRetryBaseSeconds, deps.retryMaxSeconds)
    await controlPlane.reportStatus(cluster, {
      status: 'queued',
      error: `${failure.reason} (attempt ${attempt}/${deps.maxLaunchAttempts}, retrying in ${delaySeconds}s)`,
      ...cleanupFailure,
    })
    return retryIn(delaySeconds)
  }
  const suffix = failure.isRetryable ? ` (gave up after ${attempt} attempts)` : ''
  await controlPlane.reportStatus(cluster, { status: 'failed', error: `${failure.reason}${suffix}`, ...cleanupFailure })
  // The node is failed either way; the message comes back (as a failed node's launch) until sky down works.
  return isCleanedUp ? ACK : downRetry(attempt, deps)
}

/**
 * The private path could not be made: nothing was launched and create() removed what it had made. Cloudflare
 * being unreachable or busy (network, 429, 5xx) is retried with backoff as a new attempt; a refusal (a token
 * missing a permission, a wrong zone) fails the node with the API's reason: retrying will not fix it.
 */
async function nodePathFailed(cluster: string, attempt: number, err: unknown, deps: JobDeps): Promise<JobOutcome> {
  const reason = `node_path: ${err instanceof Error ? err.message : String(err)}`
  deps.log.error('node_path_create_failed', { cluster, attempt, reason })
  if (isTransientNodePathError(err) && attempt < deps.maxLaunchAttempts) {
    const delaySeconds = backoffSeconds(attempt, 30, deps.retryMaxSeconds)
    await deps.controlPlane.reportStatus(cluster, {
      status: 'queued',
      error: `${reason} (attempt ${attempt}/${deps.maxLaunchAttempts}, retrying in ${delaySeconds}s)`,
      node_path_failure: 'create',
    })
    return retryIn(delaySeconds)
  }
  await deps.controlPlane.reportStatus(cluster, { status: 'failed', error: reason, node_path_failure: 'create' })
  return ACK
}

/** Best effort within a launch (false when it failed): what is left is removed by the next attempt's create or by the terminate. */
async function removeNodePath(cluster: string, deps: JobDeps): Promise<boolean> {
  try {
    await deps.nodePath.remove(cluster)
    return true
  } catch (err) {
    deps.log.error('node_path_cleanup_failed', { cluster, error: String(err) })
    return false
  }
}

/** `sky down` for a node that should have no cluster: ack once it is gone, retry with backoff while it is not. */
async function tearDownLeftover(cluster: string, attempt: number, deps: JobDeps): Promise<JobOutcome> {
  const down = await deps.sky.down(cluster, deps.signal)
  if (isGone(down)) {
    if (!down.absent) deps.log.warn('launch_leftover_cluster_removed', { cluster })
    await removeNodePath(cluster, deps)
    return ACK
  }
  if (down.aborted) return retryIn(0)
  deps.log.error('sky_down_leftover_failed', { cluster, attempt, reason: tailOf(down) })
  return downRetry(attempt, deps)
}
