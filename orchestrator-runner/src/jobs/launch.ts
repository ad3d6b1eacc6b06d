// Launch job: make the node's SkyPilot cluster exist, exactly once. The control plane decides whether the launch
// is still wanted; `sky status` decides whether it already happened (a redelivered message must not start a
// second A100); then fresh credentials are minted and `sky launch -d` runs. Failures are mapped to a node
// status with the reason: capacity is retried later with backoff, anything else fails the node.
import type { LaunchMessage } from '../../../workers/src/schemas/node-ops.ts'
import { classifyLaunchFailure } from '../skypilot/failures.ts'
import { buildTask, renderTaskYaml } from '../skypilot/task-yaml.ts'
import { ACK, backoffSeconds, retryIn, type JobDeps, type JobOutcome } from './job.ts'

export async function runLaunch(message: LaunchMessage, attempt: number, deps: JobDeps): Promise<JobOutcome> {
  const { sky, controlPlane, log, signal } = deps
  const cluster = message.cluster_name
  const started = await controlPlane.reportStatus(cluster, { status: 'launching' })
  if (!started.found || started.status !== 'launching') {
    log.info('launch_not_wanted', { cluster, status: started.found ? started.status : 'unknown_node' })
    return ACK
  }

  const state = await sky.clusterState(cluster, signal)
  if (state === 'up') {
    // Redelivery of a launch that already succeeded: the node is (or will be) registering by itself.
    log.info('launch_skipped_cluster_exists', { cluster })
    return ACK
  }
  if (state === 'not_up') {
    // INIT/STOPPED: an earlier attempt died half-way. Start from nothing rather than reuse a broken cluster.
    log.warn('launch_replacing_unhealthy_cluster', { cluster })
    const down = await sky.down(cluster, signal)
    if (down.exitCode !== 0 && !down.absent) return retryIn(backoffSeconds(attempt, 30, deps.retryMaxSeconds))
  }

  const minted = await controlPlane.mintCredentials(cluster)
  if (!minted.ok) {
    log.info('launch_not_wanted', { cluster, reason: minted.reason, message: minted.message })
    return ACK
  }
  const yaml = renderTaskYaml(buildTask(message, deps.task))
  const secrets = { ...deps.extraSecrets, CIC_REGISTER_TOKEN: minted.credentials.register_token, VLLM_API_KEY: minted.credentials.vllm_api_key }
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
  if (cleanup.exitCode !== 0 && !cleanup.absent) log.error('sky_down_after_failed_launch_failed', { cluster, output: cleanup.stderr.slice(-500) })

  if (failure.isRetryable && attempt < deps.maxLaunchAttempts) {
    const delaySeconds = backoffSeconds(attempt, deps.capacityRetryBaseSeconds, deps.retryMaxSeconds)
    await controlPlane.reportStatus(cluster, { status: 'queued', error: `${failure.reason} (attempt ${attempt}/${deps.maxLaunchAttempts}, retrying in ${delaySeconds}s)` })
    return retryIn(delaySeconds)
  }
  const suffix = failure.isRetryable ? ` (gave up after ${attempt} attempts)` : ''
  await controlPlane.reportStatus(cluster, { status: 'failed', error: `${failure.reason}${suffix}` })
  return ACK
}
