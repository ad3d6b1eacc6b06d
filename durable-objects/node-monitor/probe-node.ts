// One active health check of a node: `GET /health` (vLLM: 200 when the engine is alive, 503 when it is dead,
// connection refused while the model still loads) and, in parallel, a scrape of `GET /metrics` for its load.
// Called by the NodeMonitor on each alarm. A node without usable metrics is still healthy, just load-blind.
import type { HealthCheck } from './node-lifecycle.ts'
import { parseVllmMetrics, type VllmScrape } from './vllm-metrics.ts'

type Target = { endpoint: string; apiKey: string | null; timeoutMs: number }

function get(target: Target, path: string): Promise<Response> {
  const headers: Record<string, string> = {}
  // vLLM leaves /health and /metrics open, but a BYO node behind an authenticating proxy may not.
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`
  return fetch(target.endpoint + path, { headers, signal: AbortSignal.timeout(target.timeoutMs) })
}

const describe = (err: unknown, timeoutMs: number) =>
  err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError') ? `timed out after ${timeoutMs} ms` : String(err instanceof Error ? err.message : err)

const NOTHING: VllmScrape = { load: null, counters: null }

async function scrape(target: Target, now: () => number): Promise<VllmScrape> {
  try {
    const res = await get(target, '/metrics')
    const text = await res.text()
    return res.ok ? parseVllmMetrics(text, now()) : NOTHING
  } catch {
    return NOTHING
  }
}

export async function probeNode(target: Target, now: () => number = Date.now): Promise<HealthCheck> {
  const [health, { load, counters }] = await Promise.all([
    get(target, '/health').then(
      async (res) => { await res.body?.cancel(); return res.ok ? null : `GET /health answered HTTP ${res.status}` },
      (err: unknown) => `GET /health failed: ${describe(err, target.timeoutMs)}`,
    ),
    scrape(target, now),
  ])
  return health === null ? { ok: true, load, counters } : { ok: false, error: health }
}
