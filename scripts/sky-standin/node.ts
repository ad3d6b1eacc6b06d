// What a successful stand-in launch does on "the node": start a vLLM stand-in as a detached process (it outlives
// `sky`, like the real cluster) serving the task's model with the node's API key, start the cloudflared stand-in
// with the task's tunnel token (the node's only way in: the Cloudflare stand-in's edge), then run the task's own
// registration snippet (bash + curl, from its `run` script) as the real node would, with the node's secrets in
// files of a 0700 directory (the node's /etc/cic).
import { spawn, spawnSync } from 'node:child_process'
import { type AddressInfo, createServer as createNetServer } from 'node:net'
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { stateDir } from './state.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..')
const VLLM_STANDIN = path.join(ROOT, 'scripts', 'vllm-standin', 'main.ts')
const CLOUDFLARED_STANDIN = path.join(ROOT, 'scripts', 'cloudflare-standin', 'cloudflared.ts')

/**
 * cloudflared with the tunnel token, in its own process group like vLLM. The task's ingress sends the hostname
 * to http://localhost:8000; on this shared machine the node's "localhost:8000" is its vLLM stand-in's port.
 */
export function startTunnel(cluster: string, tunnelToken: string, edgeUrl: string, vllmPort: number, nodePort: number, metricsPort: number): number {
  const fd = openSync(path.join(stateDir(), `${cluster}.cloudflared.log`), 'w')
  const child = spawn(process.execPath, [CLOUDFLARED_STANDIN, 'tunnel', '--no-autoupdate', '--metrics', `127.0.0.1:${metricsPort}`, 'run'], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, TUNNEL_TOKEN: tunnelToken, CLOUDFLARED_STANDIN_EDGE: edgeUrl, CLOUDFLARED_STANDIN_LOCALHOST: `${nodePort}=${vllmPort}` },
  })
  closeSync(fd)
  child.unref()
  return child.pid as number
}

/** A port free on this machine now (the node's cloudflared metrics: every stand-in node shares the machine's ports). */
export async function freePort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The node's secrets directory: one 0600 file per secret in a 0700 directory, like /etc/cic on a real node. */
export function writeSecretsDir(cluster: string, secrets: Record<string, string>): string {
  const dir = path.join(stateDir(), `${cluster}.secrets`)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  for (const [name, value] of Object.entries(secrets)) writeFileSync(path.join(dir, name), value, { mode: 0o600 })
  return dir
}

export type StartedNode = { pid: number; url: string; port: number }

export async function startVllmNode(cluster: string, model: string, apiKey: string): Promise<StartedNode> {
  const logFile = path.join(stateDir(), `${cluster}.vllm.log`)
  const fd = openSync(logFile, 'w')
  const child = spawn(process.execPath, [VLLM_STANDIN, '--port', '0', '--model', model, '--api-key', apiKey], {
    detached: true,
    stdio: ['ignore', fd, fd],
  })
  closeSync(fd)
  child.unref()
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/[\d.]+:(\d+))/.exec(readFileSync(logFile, 'utf8'))
    if (match?.[1] && match[2]) return { pid: child.pid as number, url: match[1], port: Number(match[2]) }
    if (child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`the vLLM stand-in did not start; see ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-1000)}`)
}

/** Runs the registration snippet with the task's envs and secrets; returns its exit code and output. */
export function runRegistration(snippet: string, env: Record<string, string>, cluster: string): { ok: boolean; output: string } {
  const result = spawnSync('bash', ['-c', snippet], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 })
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`
  writeFileSync(path.join(stateDir(), `${cluster}.register.log`), output)
  return { ok: result.status === 0, output }
}

export function stopNode(pid: number | null, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (!pid) return
  try {
    process.kill(-pid, signal) // its whole process group (it was started detached)
  } catch {
    try {
      process.kill(pid, signal)
    } catch {
      /* already gone */
    }
  }
}

/** A preemption: the instance vanishes, so its processes get no chance to shut down cleanly. */
export const killNode = (pid: number | null) => stopNode(pid, 'SIGKILL')
