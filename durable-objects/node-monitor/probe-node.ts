// One active health check of a node: `GET /health` (vLLM: 200 when the engine is alive, 503 when it is dead,
// connection refused while the model still loads) and, in parallel, a scrape of `GET /metrics` for its load.
// Called by the NodeMonitor on each alarm. A node without usable metrics is still healthy, just load-blind.
import { nodeAccessHeaders } from '../../workers/src/platform/node-access.ts'
import { readCappedText } from '../../workers/src/read-capped.ts'
import type { HealthCheck } from './node-lifecycle.ts'
import { parseVllmMetrics, type VllmScrape } from './vllm-metrics.ts'

type Target = { endpoint: string; apiKey: string | null; timeoutMs: number }

/** Largest /metrics scrape read: a one-model vLLM's is tens of KB; past this the scrape counts as failed. */
export const MAX_METRICS_BYTES = 2 * 1024 * 1024

function get(target: Target, path: string): Promise<Response> {
  const headers: Record<string, string> = nodeAccessHeaders(target.endpoint) // Access in front of a launched node
  // vLLM leaves /health and /metrics open, but a BYO node behind an authenticating proxy may not.
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`
  // A redirect is not followed: a 3xx /health is a failed check, a 3xx /metrics no scrape.
  return fetch(target.endpoint + path, { headers, signal: AbortSignal.timeout(target.timeoutMs), redirect: 'manual' })
}

const describe = (err: unknown, timeoutMs: number) =>
  err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
    ? `timed out after ${timeoutMs} ms`
    : String(err instanceof Error ? err.message : err)

const NOTHING: VllmScrape = { load: null, counters: null }

async function scrape(target: Target, now: () => number): Promise<VllmScrape> {
  try {
    const res = await get(target, '/metrics')
    if (!res.ok) {
      await res.body?.cancel()
      return NOTHING
    }
    const read = await readCappedText(res.body, MAX_METRICS_BYTES)
    return read.ok ? parseVllmMetrics(read.text, now()) : NOTHING
  } catch {
    return NOTHING
  }
}

export async function probeNode(target: Target, now: () => number = Date.now): Promise<HealthCheck> {
  const [health, { load, counters }] = await Promise.all([
    get(target, '/health').then(
      async (res) => {
        await res.body?.cancel()
        return res.ok ? null : `GET /health answered HTTP ${res.status}`
      },
      (err: unknown) => `GET /health failed: ${describe(err, target.timeoutMs)}`,
    ),
    scrape(target, now),
  ])
  return health === null ? { ok: true, load, counters } : { ok: false, error: health }
}
