// Vitest global setup (runs in Node): starts vLLM stand-in nodes over real TCP, one per behaviour, each serving
// its own model name so a test chooses the behaviour by the model it asks for.
import type { TestProject } from 'vitest/node'
import { startStandin, type Standin } from '../../scripts/vllm-standin/server.ts'

export const STANDIN_MODELS = {
  healthy: ['cic-demo-llm'], // and the stand-in's default embedding model, cic-demo-embed
  failing: ['failing-llm'],
  resetting: ['resetting-llm'],
  midstream: ['midstream-llm'],
  hanging: ['hanging-llm'],
  slow: ['slow-llm'],
  stalling: ['stalling-llm'], // sends 2 tokens, then nothing without closing: the relay's idle timeout ends it
  // Used only by usage-mixed-requests.test.ts, which changes its knobs and compares its token counters with the ledger.
  ledger: ['ledger-llm'], // and the default embedding model, cic-demo-embed
} as const

export const POOL_MODELS = Array.from({ length: 12 }, (_, i) => `pool-${i + 1}`)
/** Stand-ins per test file that uses them. */
export const POOL_SIZES = {
  routing: 3,
  breaker: 2,
  retries: 3,
  monitor: 2,
  admin: 1,
  launches: 1,
  bounded: 1,
  boundedUsage: 1,
  fleet: 2,
  longStream: 1,
  cachedInput: 1,
} as const

export default async function setup(project: TestProject) {
  const started: Standin[] = []
  const urls: Record<string, string> = {}
  const knobs = {
    healthy: {},
    failing: { fail: 'http500' },
    resetting: { fail: 'reset', failAfterTokens: 3 },
    midstream: { fail: 'midstream-error', failAfterTokens: 2 },
    hanging: { fail: 'hang' },
    slow: { tokensPerSecond: 20 },
    stalling: { fail: 'stall', failAfterTokens: 2 },
    ledger: {},
  } as const
  for (const [name, models] of Object.entries(STANDIN_MODELS) as [keyof typeof STANDIN_MODELS, readonly string[]][]) {
    const standin = await startStandin({ port: 0, models: [...models], knobs: knobs[name] })
    started.push(standin)
    urls[name] = standin.url
  }
  project.provide('standins', urls as Record<keyof typeof STANDIN_MODELS, string>)
  // Plain healthy stand-ins that routing tests reconfigure through /_standin/knobs: each test file gets its
  // own (files run in parallel), each serving POOL_MODELS so that each test can register fresh nodes.
  const pools: Record<string, string[]> = {}
  for (const [file, size] of Object.entries(POOL_SIZES)) {
    pools[file] = []
    for (let i = 0; i < size; i++) {
      const standin = await startStandin({ port: 0, models: [...POOL_MODELS] })
      started.push(standin)
      pools[file].push(standin.url)
    }
  }
  project.provide('pools', pools as Record<keyof typeof POOL_SIZES, string[]>)
  return async () => {
    await Promise.all(started.map((s) => s.close()))
  }
}
