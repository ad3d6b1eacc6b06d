// Starts orchestrator-runner (its real entry point, unchanged) against a local dev stack: the queue API is the
// Worker's pull/ack shim, `sky` is the SkyPilot stand-in. Used by `npm run runner:dev` and the end-to-end test.
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

const ROOT = path.resolve(import.meta.dirname, '..')

export type LocalRunnerOptions = {
  gatewayUrl: string
  runnerToken: string
  /** The SkyPilot stand-in's state directory (clusters, calls.jsonl, knobs.json). */
  skyStateDir: string
  quiet?: boolean
  env?: Record<string, string>
}
export type LocalRunner = { child: ChildProcess; output(): string; close(): Promise<void> }

export function localRunnerEnv(options: LocalRunnerOptions): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: [path.join(ROOT, 'scripts', 'sky-standin'), path.dirname(process.execPath), process.env.PATH].join(path.delimiter),
    SKY_STANDIN_STATE_DIR: options.skyStateDir,
    CLOUDFLARE_ACCOUNT_ID: 'local',
    CLOUDFLARE_QUEUE_ID: 'node-ops',
    CLOUDFLARE_API_TOKEN: options.runnerToken, // the shim accepts the runner's token
    CLOUDFLARE_API_BASE: `${options.gatewayUrl}/local-queues/client/v4`,
    CONTROL_PLANE_URL: options.gatewayUrl,
    RUNNER_TOKEN: options.runnerToken,
    POLL_MIN_MS: '200',
    POLL_MAX_MS: '1000',
    CAPACITY_RETRY_BASE_SECONDS: '5',
    ...options.env,
  }
}

export function startLocalRunner(options: LocalRunnerOptions): LocalRunner {
  const child = spawn(process.execPath, [path.join(ROOT, 'orchestrator-runner', 'src', 'main.ts')], {
    cwd: ROOT,
    env: localRunnerEnv(options),
    stdio: options.quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-200_000)
  })
  child.stderr?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-200_000)
  })
  return {
    child,
    output: () => output,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}
