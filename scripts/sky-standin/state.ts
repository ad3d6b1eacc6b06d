// The SkyPilot stand-in's state directory (SKY_STANDIN_STATE_DIR): one JSON file per cluster, a log of every
// invocation (calls.jsonl, secrets appear only by name), and the knobs that simulate failures and slowness.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export type ClusterRecord = {
  name: string
  /** The cached status (SkyPilot's local state.db); `sky status -r` refreshes it from the "cloud" (see preempted). */
  status: 'INIT' | 'UP' | 'STOPPED'
  /** The vLLM stand-in's process id (its own process group) and URL once UP. */
  pid: number | null
  /** The node's cloudflared stand-in (its own process group), when the task carried a tunnel token. */
  tunnelPid?: number | null
  endpoint: string | null
  launchedAt: number
  jobs: number
  /** The task's `resources.use_spot` (SkyPilot names "preempted" among the likely causes only for spot clusters). */
  useSpot?: boolean
  /**
   * Set by `sky preempt`: what the cloud did to the instance. The cached record keeps its status (UP) until a
   * refresh, exactly like SkyPilot's state.db; `terminated` clusters vanish on refresh, `stopped` ones read STOPPED.
   */
  preempted?: { at: number; action: 'terminated' | 'stopped' }
}

export type LaunchFailure = 'capacity' | 'quota' | 'auth' | 'error' | 'setup' | 'unsatisfiable'
export type Knobs = {
  /**
   * Make `sky launch` fail like SkyPilot does; `setup` leaves an INIT cluster behind, the others leave nothing.
   * `unsatisfiable` is the optimizer's "No launchable resource found" (also given, without a knob, for AWS A100 not ×8).
   */
  fail?: LaunchFailure
  /** Fail only the first N launches (default: all), then succeed. */
  failTimes?: number
  /** Extra time a launch takes (provisioning), in ms. */
  delayMs?: number
  /** Make the first N `sky down` calls fail. */
  failDownTimes?: number
}

export const stateDir = () => process.env.SKY_STANDIN_STATE_DIR ?? path.join(tmpdir(), 'cic-sky-standin')
const clustersDir = () => path.join(stateDir(), 'clusters')
const clusterFile = (name: string) => path.join(clustersDir(), `${name}.json`)

export function ensureStateDir(): void {
  mkdirSync(clustersDir(), { recursive: true })
}

export function recordCall(argv: string[]): void {
  appendFileSync(path.join(stateDir(), 'calls.jsonl'), `${JSON.stringify({ at: Date.now(), argv })}\n`)
}

export function readCalls(dir = stateDir()): { at: number; argv: string[] }[] {
  const file = path.join(dir, 'calls.jsonl')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { at: number; argv: string[] })
}

export function readCluster(name: string): ClusterRecord | null {
  return existsSync(clusterFile(name)) ? (JSON.parse(readFileSync(clusterFile(name), 'utf8')) as ClusterRecord) : null
}

export function writeCluster(record: ClusterRecord): void {
  writeFileSync(clusterFile(record.name), JSON.stringify(record, null, 2))
}

export function removeCluster(name: string): void {
  rmSync(clusterFile(name), { force: true })
  rmSync(path.join(stateDir(), `${name}.secrets`), { recursive: true, force: true }) // the node's /etc/cic
}

export function listClusters(dir = stateDir()): ClusterRecord[] {
  const d = path.join(dir, 'clusters')
  if (!existsSync(d)) return []
  return readdirSync(d)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(d, f), 'utf8')) as ClusterRecord)
}

/** knobs.json in the state dir, overridden by SKY_STANDIN_FAIL / _FAIL_TIMES / _DELAY_MS / _FAIL_DOWN_TIMES. */
export function readKnobs(): Knobs {
  const file = path.join(stateDir(), 'knobs.json')
  const knobs: Knobs = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Knobs) : {}
  const env = process.env
  if (env.SKY_STANDIN_FAIL) knobs.fail = env.SKY_STANDIN_FAIL as LaunchFailure
  if (env.SKY_STANDIN_FAIL_TIMES) knobs.failTimes = Number(env.SKY_STANDIN_FAIL_TIMES)
  if (env.SKY_STANDIN_DELAY_MS) knobs.delayMs = Number(env.SKY_STANDIN_DELAY_MS)
  if (env.SKY_STANDIN_FAIL_DOWN_TIMES) knobs.failDownTimes = Number(env.SKY_STANDIN_FAIL_DOWN_TIMES)
  return knobs
}

/** Replaces the knobs and restarts the counts of the limited ones. */
export function writeKnobs(knobs: Knobs, dir = stateDir()): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'knobs.json'), JSON.stringify(knobs))
  for (const f of readdirSync(dir).filter((name) => name.startsWith('used-'))) rmSync(path.join(dir, f), { force: true })
}

/** Counts uses of a limited knob (failTimes, failDownTimes); true while the limit is not reached. */
export function consumeKnob(name: string, limit: number | undefined): boolean {
  const file = path.join(stateDir(), `used-${name}`)
  const used = existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0
  if (limit !== undefined && used >= limit) return false
  writeFileSync(file, String(used + 1))
  return true
}
