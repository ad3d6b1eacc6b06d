// Starts orchestrator-runner (its real entry point, unchanged) against a local dev stack: the queue API is the
// Worker's pull/ack shim, `sky` is the SkyPilot stand-in, Cloudflare (tunnels, DNS, Access, the edge) is the
// Cloudflare stand-in started with it (local-runner-process.ts). Used by `npm run runner:dev` and end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { ensureDevVars } from './dev-stack.ts'

const ROOT = path.resolve(import.meta.dirname, '..')

export type LocalRunnerOptions = {
  gatewayUrl: string
  runnerToken: string
  /** The SkyPilot stand-in's state directory (clusters, calls.jsonl, knobs.json). */
  skyStateDir: string
  quiet?: boolean
  env?: Record<string, string>
  /** Fixed ports and a state file for the Cloudflare stand-in (runner:dev keeps nodes across restarts); default: free ports, in memory. */
  cloudflare?: { apiPort?: number; edgePort?: number; stateFile?: string }
}
export type CloudflareStandinUrls = { apiUrl: string; edgeUrl: string }
export type LocalRunner = {
  child: ChildProcess
  output(): string
  /** The Cloudflare stand-in's URLs, once it listens. */
  cloudflare(): Promise<CloudflareStandinUrls>
  close(): Promise<void>
}

/** The zone launched nodes get hostnames under locally (the Worker's NODES_ZONE policy is off outside production). */
export const LOCAL_NODES_ZONE = 'nodes.cic.localhost'

export function localRunnerEnv(options: LocalRunnerOptions): NodeJS.ProcessEnv {
  // The gateway's Access service token is the dev Worker's (.dev.vars): the stand-in's Access admits exactly it.
  const vars = ensureDevVars()
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
    // The node path, against the Cloudflare stand-in (the process fills in its URLs, zone id and token id).
    CLOUDFLARE_NODE_PATH_API_TOKEN: 'cic-dev-node-path-token',
    NODES_ZONE: LOCAL_NODES_ZONE,
    ACCESS_TEAM_NAME: 'cic-dev',
    CIC_GATEWAY_ACCESS_CLIENT_ID: vars.CF_ACCESS_CLIENT_ID ?? '',
    CIC_GATEWAY_ACCESS_CLIENT_SECRET: vars.CF_ACCESS_CLIENT_SECRET ?? '',
    CLOUDFLARE_STANDIN_API_PORT: String(options.cloudflare?.apiPort ?? 0),
    CLOUDFLARE_STANDIN_EDGE_PORT: String(options.cloudflare?.edgePort ?? 0),
    CLOUDFLARE_STANDIN_STATE_FILE: options.cloudflare?.stateFile ?? '',
    ...options.env,
  }
}

export function startLocalRunner(options: LocalRunnerOptions): LocalRunner {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'local-runner-process.ts')], {
    cwd: ROOT,
    env: localRunnerEnv(options),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  let urls: CloudflareStandinUrls | null = null
  const collect = (d: Buffer, echo: NodeJS.WriteStream) => {
    output = (output + d.toString()).slice(-200_000)
    const match = urls ? null : /cloudflare-standin api=(\S+) edge=(\S+)/.exec(output)
    if (match?.[1] && match[2]) urls = { apiUrl: match[1], edgeUrl: match[2] }
    if (!options.quiet) echo.write(d)
  }
  child.stdout?.on('data', (d: Buffer) => collect(d, process.stdout))
  child.stderr?.on('data', (d: Buffer) => collect(d, process.stderr))
  return {
    child,
    output: () => output,
    async cloudflare() {
      const deadline = Date.now() + 15_000
      while (Date.now() < deadline) {
        if (urls) return urls
        if (child.exitCode !== null) break
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error(`the Cloudflare stand-in did not start:\n${output.slice(-2000)}`)
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}
