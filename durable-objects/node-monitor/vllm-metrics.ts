// Reads the three load gauges the router uses, and the cumulative token counters the usage reconciliation
// compares with the ledger, out of a vLLM node's Prometheus `/metrics` text. Pure; called by the NodeMonitor
// after each scrape. Sources: vllm/v1/metrics/loggers.py, docs/usage/metrics.md.

export type NodeLoad = {
  /** `vllm:num_requests_waiting`, summed over engines: the node's queue depth. */
  waiting: number
  /** `vllm:num_requests_running`, summed over engines: requests in the node's batches. */
  running: number
  /** `vllm:kv_cache_usage_perc` (or the V0 name `vllm:gpu_cache_usage_perc`), 0–1, mean over engines; null if absent. */
  kvCacheUsage: number | null
  /** When the scrape happened (ms since epoch). */
  scrapedAt: number
}

const WAITING = 'vllm:num_requests_waiting'
const RUNNING = 'vllm:num_requests_running'
const KV = 'vllm:kv_cache_usage_perc'
const KV_V0 = 'vllm:gpu_cache_usage_perc' // deprecated in the V1 transition, removed later: still read for old nodes
const PROMPT_TOKENS = 'vllm:prompt_tokens_total'
const GENERATION_TOKENS = 'vllm:generation_tokens_total'
const WANTED = new Set([WAITING, RUNNING, KV, KV_V0, PROMPT_TOKENS, GENERATION_TOKENS])

/** The node's own token counters since its engine started (summed over engines). */
export type NodeTokenCounters = { promptTokensTotal: number; generationTokensTotal: number }

/** One sample line: `name{label="v",...} value [timestamp]`; label values may hold spaces, braces and `\"`. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)/

function samples(text: string): Map<string, number[]> {
  const found = new Map<string, number[]>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const match = SAMPLE.exec(line)
    if (!match?.[1] || !match[2] || !WANTED.has(match[1])) continue
    const value = Number(match[2]) // Prometheus writes NaN / +Inf too; Number() reads them, isFinite drops them
    if (!Number.isFinite(value)) continue
    found.set(match[1], [...(found.get(match[1]) ?? []), value])
  }
  return found
}

const sum = (values: number[] | undefined) => values?.reduce((a, b) => a + b, 0) ?? null
const mean = (values: number[] | undefined) => (values && values.length > 0 ? (sum(values) ?? 0) / values.length : null)

export type VllmScrape = { load: NodeLoad | null; counters: NodeTokenCounters | null }

export function parseVllmMetrics(text: string, scrapedAt: number): VllmScrape {
  const found = samples(text)
  const prompt = sum(found.get(PROMPT_TOKENS))
  const generation = sum(found.get(GENERATION_TOKENS))
  const counters = prompt === null || generation === null ? null : { promptTokensTotal: prompt, generationTokensTotal: generation }
  return { load: loadOf(found, scrapedAt), counters }
}

/** The node's load, or null when the text has neither queue gauge (not a vLLM node, or metrics disabled). */
export const parseVllmLoad = (text: string, scrapedAt: number): NodeLoad | null => loadOf(samples(text), scrapedAt)

function loadOf(found: Map<string, number[]>, scrapedAt: number): NodeLoad | null {
  const waiting = sum(found.get(WAITING))
  const running = sum(found.get(RUNNING))
  if (waiting === null && running === null) return null
  const kv = mean(found.get(KV)) ?? mean(found.get(KV_V0))
  return { waiting: waiting ?? 0, running: running ?? 0, kvCacheUsage: kv === null ? null : Math.min(1, Math.max(0, kv)), scrapedAt }
}
