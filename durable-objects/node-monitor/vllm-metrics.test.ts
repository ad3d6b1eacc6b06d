import { describe, expect, it } from 'vitest'
import { DEFAULT_KNOBS } from '../../scripts/vllm-standin/knobs.ts'
import { metricsText } from '../../scripts/vllm-standin/metrics.ts'
import { createStats } from '../../scripts/vllm-standin/stats.ts'
import { parseVllmLoad, parseVllmMetrics } from './vllm-metrics.ts'

describe('parseVllmLoad', () => {
  it("reads the stand-in's real exposition (same names, labels and float format as vLLM)", () => {
    const stats = { ...createStats(), inFlight: 3 }
    const text = metricsText('cic-demo-llm', { ...DEFAULT_KNOBS, queueDepth: 7, kvCacheUsage: 0.42 }, stats)
    expect(parseVllmLoad(text, 123)).toEqual({ waiting: 7, running: 3, kvCacheUsage: 0.42, scrapedAt: 123 })
  })

  it('sums queues and averages KV usage over data-parallel engines', () => {
    const text = [
      '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen2.5-7B"} 2.0',
      'vllm:num_requests_waiting{engine="1",model_name="Qwen/Qwen2.5-7B"} 3.0',
      'vllm:num_requests_running{engine="0",model_name="Qwen/Qwen2.5-7B"} 8.0',
      'vllm:num_requests_running{engine="1",model_name="Qwen/Qwen2.5-7B"} 4.0',
      'vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen2.5-7B"} 0.5',
      'vllm:kv_cache_usage_perc{engine="1",model_name="Qwen/Qwen2.5-7B"} 0.7',
    ].join('\n')
    expect(parseVllmLoad(text, 1)).toMatchObject({ waiting: 5, running: 12, kvCacheUsage: 0.6 })
  })

  it('falls back to the old gpu_cache_usage_perc name on nodes that do not have the new one', () => {
    const text = 'vllm:num_requests_waiting{model_name="m"} 0.0\nvllm:num_requests_running{model_name="m"} 1.0\nvllm:gpu_cache_usage_perc{model_name="m"} 0.9\n'
    expect(parseVllmLoad(text, 1)).toMatchObject({ waiting: 0, running: 1, kvCacheUsage: 0.9 })
  })

  it('prefers the new name when a node reports both', () => {
    const text = 'vllm:num_requests_waiting 0\nvllm:kv_cache_usage_perc 0.25\nvllm:gpu_cache_usage_perc 0.99\n'
    expect(parseVllmLoad(text, 1)?.kvCacheUsage).toBe(0.25)
  })

  it('copes with label values holding spaces, braces and escaped quotes, and with timestamps', () => {
    const text = 'vllm:num_requests_waiting{model_name="a } b \\" c",engine="0"} 4 1719000000000\n'
    expect(parseVllmLoad(text, 1)).toMatchObject({ waiting: 4, running: 0, kvCacheUsage: null })
  })

  it('ignores similarly named series and non-finite values', () => {
    const text = 'vllm:num_requests_waiting_total 99\nvllm:num_requests_waiting{a="b"} NaN\nvllm:num_requests_running 2\n'
    expect(parseVllmLoad(text, 1)).toMatchObject({ waiting: 0, running: 2 })
  })

  it('returns null for text without vLLM queue gauges', () => {
    expect(parseVllmLoad('# nothing here\nprocess_cpu_seconds_total 12.5\n', 1)).toBeNull()
    expect(parseVllmLoad('<html>not prometheus</html>', 1)).toBeNull()
  })
})

describe('parseVllmMetrics', () => {
  it('reads the token counters the stand-in exposes, summed over engines, with the load', () => {
    const stats = { ...createStats(), promptTokens: 120, generationTokens: 345 }
    const text = metricsText('cic-demo-llm', DEFAULT_KNOBS, stats)
    expect(parseVllmMetrics(text, 5)).toMatchObject({ counters: { promptTokensTotal: 120, generationTokensTotal: 345 }, load: { scrapedAt: 5 } })
    const twoEngines = 'vllm:prompt_tokens_total{engine="0"} 10.0\nvllm:prompt_tokens_total{engine="1"} 5.0\nvllm:generation_tokens_total{engine="0"} 7.0\n'
    expect(parseVllmMetrics(twoEngines, 1).counters).toEqual({ promptTokensTotal: 15, generationTokensTotal: 7 })
  })

  it('has no counters when either one is missing (a partial figure would skew reconciliation)', () => {
    expect(parseVllmMetrics('vllm:prompt_tokens_total 10.0\n', 1).counters).toBeNull()
  })
})
