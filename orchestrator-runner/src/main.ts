// orchestrator-runner entry: reads the configuration, wires the pull client, the control-plane client and the
// SkyPilot CLI into the job dispatcher, and runs the poll loop until SIGTERM/SIGINT. On shutdown it stops
// pulling, gives running jobs SHUTDOWN_GRACE_MS, then aborts their sky commands; un-acked messages come back.
import { createCloudflareClient } from './cloudflare/client.ts'
import { createNodePath } from './cloudflare/node-path.ts'
import { createControlPlane } from './control-plane/client.ts'
import { loadRunnerConfig } from './config.ts'
import { createRunnerHealth, startHealthServer } from './health.ts'
import { createDispatcher } from './jobs/dispatch.ts'
import { log } from './log.ts'
import { runConsumer } from './queue/consumer.ts'
import { createPullClient } from './queue/pull-client.ts'
import { createSkyCli } from './skypilot/cli.ts'
import { VLLM_PORT } from './skypilot/task-yaml.ts'

const config = loadRunnerConfig(process.env)
const health = createRunnerHealth({ staleMs: config.HEALTH_STALE_MS })
const healthServer = config.HEALTH_PORT > 0 ? startHealthServer(config.HEALTH_PORT, health) : null
const stopPulling = new AbortController()
const abortJobs = new AbortController()

const dispatch = createDispatcher({
  sky: createSkyCli({
    bin: config.SKY_BIN,
    env: process.env,
    launchTimeoutMs: config.LAUNCH_TIMEOUT_MS,
    downTimeoutMs: config.DOWN_TIMEOUT_MS,
    statusTimeoutMs: config.STATUS_TIMEOUT_MS,
  }),
  controlPlane: createControlPlane({ baseUrl: config.CONTROL_PLANE_URL, runnerToken: config.RUNNER_TOKEN }),
  nodePath: createNodePath({
    client: createCloudflareClient({
      baseUrl: config.CLOUDFLARE_NODE_PATH_API_BASE.replace(/\/+$/, ''),
      apiToken: config.CLOUDFLARE_NODE_PATH_API_TOKEN,
      accountId: config.CLOUDFLARE_ACCOUNT_ID,
      zoneId: config.NODES_ZONE_ID,
    }),
    zone: config.NODES_ZONE,
    serviceTokenId: config.ACCESS_SERVICE_TOKEN_ID,
    endpointTemplate: config.NODE_ENDPOINT_TEMPLATE,
    originService: `http://localhost:${VLLM_PORT}`,
    accessTeamName: config.ACCESS_TEAM_NAME,
    log,
  }),
  log,
  task: {
    registerUrl: config.NODE_REGISTER_URL,
    vllmPipSpec: config.VLLM_PIP_SPEC,
    autodownIdleMinutes: config.AUTODOWN_IDLE_MINUTES,
    hasHfToken: config.HF_TOKEN !== undefined,
  },
  extraSecrets: config.HF_TOKEN ? { HF_TOKEN: config.HF_TOKEN } : {},
  maxLaunchAttempts: config.MAX_LAUNCH_ATTEMPTS,
  capacityRetryBaseSeconds: config.CAPACITY_RETRY_BASE_SECONDS,
  retryMaxSeconds: config.RETRY_MAX_SECONDS,
  signal: abortJobs.signal,
})

function shutdown(signal: string) {
  if (stopPulling.signal.aborted) return
  log.info('runner_stopping', { signal, graceMs: config.SHUTDOWN_GRACE_MS })
  stopPulling.abort()
  setTimeout(() => abortJobs.abort(), config.SHUTDOWN_GRACE_MS).unref()
}
process.once('SIGTERM', () => shutdown('SIGTERM'))
process.once('SIGINT', () => shutdown('SIGINT'))

log.info('runner_started', {
  queue: config.CLOUDFLARE_QUEUE_ID,
  apiBase: config.CLOUDFLARE_API_BASE,
  controlPlane: config.CONTROL_PLANE_URL,
  sky: config.SKY_BIN,
})
await runConsumer({
  client: createPullClient({
    apiBase: config.CLOUDFLARE_API_BASE,
    accountId: config.CLOUDFLARE_ACCOUNT_ID,
    queueId: config.CLOUDFLARE_QUEUE_ID,
    apiToken: config.CLOUDFLARE_API_TOKEN,
  }),
  handle: dispatch,
  log,
  maxConcurrency: config.MAX_CONCURRENT_JOBS,
  visibilityTimeoutMs: config.VISIBILITY_TIMEOUT_MS,
  pollMinMs: config.POLL_MIN_MS,
  pollMaxMs: config.POLL_MAX_MS,
  signal: stopPulling.signal,
  health,
})
healthServer?.close()
log.info('runner_stopped')
process.exit(0)
