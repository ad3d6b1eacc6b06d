// The vLLM stand-in: a node:http server speaking vLLM's OpenAI-compatible wire format with
// deterministic output and failure knobs. The local dev node (via main.ts) and the upstream in tests.

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { applyKnobPatch, DEFAULT_KNOBS } from './knobs.ts'
import type { Knobs } from './knobs.ts'
import { createRequestHandler } from './router.ts'
import type { StandinState } from './router.ts'
import { createStats, resetStats } from './stats.ts'
import type { Stats } from './stats.ts'

export type { ErrorFormat, FailMode, Knobs } from './knobs.ts'
export type { FinishedReason, ReceivedRequest, Stats } from './stats.ts'

export type StandinOptions = {
  /** 0 (default) picks a free port. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** Generation model names; default ['cic-demo-llm']. The first is the default model and labels /metrics. */
  models?: string[]
  /** Embedding model names (only these answer /v1/embeddings); default ['cic-demo-embed']. */
  embeddingModels?: string[]
  /** Context length reported by /v1/models and enforced on prompt + max_tokens; default 8192. */
  maxModelLen?: number
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>` (401 `{"error":"Unauthorized"}` otherwise). */
  apiKey?: string
  /** Initial knobs; also what reset() returns to. */
  knobs?: Partial<Knobs>
}

export type Standin = {
  /** `http://<host>:<port>`, no trailing slash. */
  url: string
  port: number
  /** Live: assign fields at any time; the next request sees them. */
  knobs: Knobs
  /** Live, mutated in place (also by reset()). */
  stats: Stats
  /** Restores the initial knobs and zeroes the stats (in place). */
  reset(): void
  /** Stops listening and drops open connections (hung requests included). */
  close(): Promise<void>
}

export const DEFAULT_MODELS: readonly string[] = ['cic-demo-llm']
export const DEFAULT_EMBEDDING_MODELS: readonly string[] = ['cic-demo-embed']
export const DEFAULT_MAX_MODEL_LEN = 8192
/** Longer than typical client pools (undici: 4 s), so the server never closes a connection a client is about to reuse. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000

export async function startStandin(options: StandinOptions = {}): Promise<Standin> {
  const initialKnobs: Knobs = { ...DEFAULT_KNOBS }
  const problem = applyKnobPatch(initialKnobs, options.knobs ?? {})
  if (problem) throw new Error(`vllm-standin: ${problem}`)
  const host = options.host ?? '127.0.0.1'
  let isShuttingDown = false

  const state: StandinState = {
    served: {
      models: options.models && options.models.length > 0 ? [...options.models] : DEFAULT_MODELS,
      embeddingModels: options.embeddingModels ? [...options.embeddingModels] : DEFAULT_EMBEDDING_MODELS,
      maxModelLen: options.maxModelLen ?? DEFAULT_MAX_MODEL_LEN,
      createdAt: Math.floor(Date.now() / 1000),
    },
    knobs: { ...initialKnobs },
    stats: createStats(),
    expectedAuthorization: options.apiKey ? `Bearer ${options.apiKey}` : null,
    isShuttingDown: () => isShuttingDown,
    reset() {
      Object.assign(state.knobs, initialKnobs)
      resetStats(state.stats)
    },
  }

  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, noDelay: true }, createRequestHandler(state))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port // a TCP listen always yields AddressInfo
  const urlHost = host.includes(':') ? `[${host}]` : host

  return {
    url: `http://${urlHost}:${port}`,
    port,
    knobs: state.knobs,
    stats: state.stats,
    reset: state.reset,
    close() {
      isShuttingDown = true
      const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
      server.closeAllConnections() // hung and keep-alive connections would otherwise hold close() open
      return closed
    },
  }
}
