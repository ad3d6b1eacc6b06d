// Runs the SkyPilot CLI: the exact command lines, a spawn with a timeout and captured output, and the three
// operations the jobs need (cluster state, launch, down). Secrets reach `sky` through its environment and
// `--secret NAME` (SkyPilot reads the value from the local env), never through argv or the task file.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'

export type CommandResult = { exitCode: number | null; stdout: string; stderr: string; timedOut: boolean; aborted: boolean }
export type RunOptions = { env: NodeJS.ProcessEnv; timeoutMs: number; signal?: AbortSignal }

const OUTPUT_CAP = 256 * 1024 // keep the tail: SkyPilot prints the error last
const KILL_GRACE_MS = 10_000

/** `-y` skips the prompt, `-d` returns once the job is submitted (a server job never ends), `-c` names the cluster. */
export const launchArgs = (cluster: string, taskPath: string, secretNames: readonly string[]) => [
  'launch',
  '-y',
  '-d',
  '-c',
  cluster,
  taskPath,
  ...secretNames.flatMap((name) => ['--secret', name]),
]
export const downArgs = (cluster: string) => ['down', '-y', cluster]
/** Exit 0 and the head IP when UP; otherwise an error naming why (works on every SkyPilot version, unlike `-o json`). */
export const statusIpArgs = (cluster: string) => ['status', '--ip', cluster]

export function runCommand(bin: string, args: string[], options: RunOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    let aborted = false
    const keep = (acc: string, chunk: Buffer) => (acc + chunk.toString()).slice(-OUTPUT_CAP)
    child.stdout.on('data', (c: Buffer) => {
      stdout = keep(stdout, c)
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr = keep(stderr, c)
    })
    const stop = () => {
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref()
    }
    const timer = setTimeout(() => {
      timedOut = true
      stop()
    }, options.timeoutMs)
    const onAbort = () => {
      aborted = true
      stop()
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const finish = (exitCode: number | null, extra = '') => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      resolve({ exitCode, stdout, stderr: stderr + extra, timedOut, aborted })
    }
    child.once('error', (err) => finish(null, `\nfailed to start ${bin}: ${err.message}`))
    child.once('close', (code) => finish(code))
  })
}

export type ClusterState = 'up' | 'not_up' | 'absent'

export type SkyCli = {
  clusterState(cluster: string, signal?: AbortSignal): Promise<ClusterState>
  launch(cluster: string, taskYaml: string, secrets: Record<string, string>, signal?: AbortSignal): Promise<CommandResult>
  /** `absent: true` when there was no such cluster (SkyPilot prints "Cluster(s) not found" and exits 0). */
  down(cluster: string, signal?: AbortSignal): Promise<CommandResult & { absent: boolean }>
}

export type SkyCliOptions = { bin: string; env: NodeJS.ProcessEnv; launchTimeoutMs: number; downTimeoutMs: number; statusTimeoutMs: number }

export class SkyCommandError extends Error {}

const output = (r: CommandResult) => `${r.stdout}\n${r.stderr}`

export function createSkyCli(options: SkyCliOptions): SkyCli {
  const env = { ...options.env, SKYPILOT_DISABLE_USAGE_COLLECTION: '1' }
  return {
    async clusterState(cluster, signal) {
      const r = await runCommand(options.bin, statusIpArgs(cluster), { env, timeoutMs: options.statusTimeoutMs, signal })
      if (r.exitCode === 0) return 'up'
      const text = output(r)
      // SkyPilot's messages for `--ip` (command.py _show_endpoint): "Cluster 'x' is not in UP status." and
      // "'x' cluster not found. Please specify a single cluster ...".
      if (/is not in UP status/.test(text)) return 'not_up'
      if (text.includes(`'${cluster}' cluster not found`)) return 'absent'
      throw new SkyCommandError(`sky status --ip ${cluster} failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}): ${text.trim().slice(-500)}`)
    },
    async launch(cluster, taskYaml, secrets, signal) {
      const dir = await mkdtemp(path.join(tmpdir(), 'cic-task-'))
      const taskPath = path.join(dir, `${cluster}.sky.yaml`)
      try {
        await writeFile(taskPath, taskYaml, { mode: 0o600 })
        return await runCommand(options.bin, launchArgs(cluster, taskPath, Object.keys(secrets)), {
          env: { ...env, ...secrets },
          timeoutMs: options.launchTimeoutMs,
          signal,
        })
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
    async down(cluster, signal) {
      const r = await runCommand(options.bin, downArgs(cluster), { env, timeoutMs: options.downTimeoutMs, signal })
      // Exactly SkyPilot's wording (sky/client/cli/command.py _down_or_stop_clusters): a looser match could
      // read "credentials not found" as "already gone" and leave an A100 running.
      return { ...r, absent: /Cluster\(s\) not found/.test(output(r)) }
    },
  }
}
