// `GET /metrics`: the subset of vLLM's Prometheus exposition the gateway scrapes, with vLLM's names,
// labels (`model_name`, `engine`) and `_total` counter suffixes. Gauges come from the knobs; counters
// from Stats. Series are labelled with the first served model, as a real one-model vLLM would.

import type { Knobs } from './knobs.ts'
import type { FinishedReason, Stats } from './stats.ts'

const FINISHED_REASONS: readonly FinishedReason[] = ['stop', 'length', 'abort', 'error']

/** prometheus_client prints floats, so whole numbers come out as `3.0`. */
function sample(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(value)
}

function metric(name: string, type: 'gauge' | 'counter', help: string, lines: string[]): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${lines.join('\n')}\n`
}

export function metricsText(modelName: string, knobs: Knobs, stats: Stats): string {
  const labels = `model_name=${JSON.stringify(modelName)},engine="0"`
  const one = (name: string, value: number) => [`${name}{${labels}} ${sample(value)}`]
  const running = knobs.running ?? stats.inFlight
  return [
    metric('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', one('vllm:num_requests_running', running)),
    metric('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', one('vllm:num_requests_waiting', knobs.queueDepth)),
    metric('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.', one('vllm:kv_cache_usage_perc', knobs.kvCacheUsage)),
    // Deprecated V0 name, still scraped by older dashboards; same value.
    metric('vllm:gpu_cache_usage_perc', 'gauge', 'GPU KV-cache usage. 1 means 100 percent usage.', one('vllm:gpu_cache_usage_perc', knobs.kvCacheUsage)),
    metric('vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.', one('vllm:prompt_tokens_total', stats.promptTokens)),
    metric('vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.', one('vllm:generation_tokens_total', stats.generationTokens)),
    metric(
      'vllm:request_success_total',
      'counter',
      'Count of successfully processed requests.',
      FINISHED_REASONS.map((reason) => `vllm:request_success_total{${labels},finished_reason="${reason}"} ${sample(stats.finished[reason])}`),
    ),
  ].join('')
}
