// Puts the SkyPilot stand-in first on PATH (with this Node, which runs .ts) over a fresh state directory, and
// cleans up the "nodes" (vLLM stand-in processes) it started.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { stopNode } from '../../scripts/sky-standin/node.ts'
import { listClusters, readCalls, writeKnobs, type Knobs } from '../../scripts/sky-standin/state.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..')
export const SKY_STANDIN_DIR = path.join(ROOT, 'scripts', 'sky-standin')

export type SkyStandinEnv = {
  env: NodeJS.ProcessEnv
  stateDir: string
  setKnobs(knobs: Knobs): void
  /** Argument lists of every `sky` invocation so far. */
  calls(): string[][]
  launches(cluster: string): number
  clusters: () => ReturnType<typeof listClusters>
  cleanup(): void
}

export function skyStandinEnv(): SkyStandinEnv {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'cic-sky-'))
  mkdirSync(path.join(stateDir, 'clusters'))
  const env = {
    ...process.env,
    PATH: [SKY_STANDIN_DIR, path.dirname(process.execPath), process.env.PATH].join(path.delimiter),
    SKY_STANDIN_STATE_DIR: stateDir,
  }
  const calls = () => readCalls(stateDir).map((c) => c.argv)
  return {
    env,
    stateDir,
    setKnobs: (knobs) => writeKnobs(knobs, stateDir),
    calls,
    launches: (cluster) => calls().filter((argv) => argv[0] === 'launch' && argv.includes(cluster)).length,
    clusters: () => listClusters(stateDir),
    cleanup() {
      for (const cluster of listClusters(stateDir)) {
        stopNode(cluster.pid)
        stopNode(cluster.tunnelPid ?? null)
      }
      rmSync(stateDir, { recursive: true, force: true })
    },
  }
}
