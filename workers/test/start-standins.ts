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
  // Used only by usage-mixed-requests.test.ts, which changes its knobs and compares its token counters with the ledger.
  ledger: ['ledger-llm'], // and the default embedding model, cic-demo-embed
} as const

export default async function setup(project: TestProject) {
  const started: Standin[] = []
  const urls: Record<string, string> = {}
  const knobs = {
    healthy: {}, failing: { fail: 'http500' }, resetting: { fail: 'reset', failAfterTokens: 3 },
    midstream: { fail: 'midstream-error', failAfterTokens: 2 }, hanging: { fail: 'hang' }, slow: { tokensPerSecond: 20 },
    ledger: {},
  } as const
  for (const [name, models] of Object.entries(STANDIN_MODELS) as [keyof typeof STANDIN_MODELS, readonly string[]][]) {
    const standin = await startStandin({ port: 0, models: [...models], knobs: knobs[name] })
    started.push(standin)
    urls[name] = standin.url
  }
  project.provide('standins', urls as Record<keyof typeof STANDIN_MODELS, string>)
  return async () => { await Promise.all(started.map((s) => s.close())) }
}
