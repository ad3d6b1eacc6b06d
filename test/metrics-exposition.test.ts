// The gateway's /metrics text, rendered by the real exposition code (pure, so it runs in Node), read back by
// parse-prometheus-text-format, a third-party port of Prometheus' own text parser: not by our own test parser
// (workers/test/helpers/prom-text.ts), so a misreading shared by our renderer and our parser cannot hide.
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { EXPOSITION_CONTENT_TYPE, renderExposition } from '../durable-objects/metrics-aggregator/exposition.ts'
import { FAMILIES, FAMILY_LIST, histogramDeltas, mergeDeltas, seriesKey } from '../durable-objects/metrics-aggregator/metric-registry.ts'

const summedOf = (...samples: ReturnType<typeof histogramDeltas>) => {
  const summed = new Map<string, number>()
  mergeDeltas(
    summed,
    samples.map((s) => [seriesKey(s.name, s.labels), s.value] as const),
  )
  return summed
}

function render(): string {
  const labels = { method: 'POST', route: '/v1/chat/completions' }
  const summed = summedOf(
    ...histogramDeltas(FAMILIES.httpDuration, labels, 0.004),
    ...histogramDeltas(FAMILIES.httpDuration, labels, 0.7),
    ...histogramDeltas(FAMILIES.httpDuration, labels, 400), // beyond the last bucket: +Inf only
  )
  mergeDeltas(summed, [
    [seriesKey(FAMILIES.httpRequests.name, { ...labels, status: '200' }), 2],
    [seriesKey(FAMILIES.httpRequests.name, { ...labels, status: '429' }), 1],
    [seriesKey(FAMILIES.upstreamErrors.name, { node: 'a"b\\c\nd', kind: 'http_5xx' }), 4],
    [seriesKey(FAMILIES.activeRequests.name, {}), 3],
  ])
  return renderExposition(summed, [
    { name: FAMILIES.nodeUp.name, labels: { node: 'node_1' }, value: 1 },
    { name: FAMILIES.nodeKvCache.name, labels: { node: 'node_1' }, value: 0.25 },
  ])
}

const family = (families: ParsedFamily[], name: string) => {
  const found = families.find((f) => f.name === name)
  if (!found) throw new Error(`no family ${name}`)
  return found
}

describe('exposition text, read by parse-prometheus-text-format', () => {
  it('parses without error: every family once, with its HELP and TYPE, in registry order', () => {
    expect(EXPOSITION_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8')
    const families = parsePrometheusTextFormat(render())
    expect(families.map((f) => f.name)).toEqual(FAMILY_LIST.map((f) => f.name))
    for (const f of FAMILY_LIST) {
      expect(family(families, f.name)).toMatchObject({ help: f.help, type: f.type.toUpperCase() })
    }
  })

  it('reads back the exact counter, gauge and histogram values, and escaped label values', () => {
    const families = parsePrometheusTextFormat(render())
    const requests = family(families, 'cic_http_requests_total').metrics
    expect(requests).toEqual(
      expect.arrayContaining([
        { labels: { method: 'POST', route: '/v1/chat/completions', status: '200' }, value: '2' },
        { labels: { method: 'POST', route: '/v1/chat/completions', status: '429' }, value: '1' },
      ]),
    )
    expect(family(families, 'cic_active_requests').metrics).toEqual([{ value: '3' }])
    expect(family(families, 'cic_node_up').metrics).toEqual([{ labels: { node: 'node_1' }, value: '1' }])
    expect(family(families, 'cic_node_kv_cache_usage').metrics).toEqual([{ labels: { node: 'node_1' }, value: '0.25' }])
    expect(family(families, 'cic_upstream_errors_total').metrics).toEqual([{ labels: { kind: 'http_5xx', node: 'a"b\\c\nd' }, value: '4' }])
    // The parser flattens a histogram into cumulative buckets (it keeps `_sum`/`_count` only when unlabelled: below).
    const [duration] = family(families, 'cic_http_request_duration_seconds').metrics
    expect(duration?.buckets).toMatchObject({ '0.001': '0', '0.005': '1', '0.5': '1', '1': '2', '300': '2', '+Inf': '3' })
    // Every bound of the family, also those no observation reached (object keys: order not kept for "1", "5"…).
    expect(new Set(Object.keys(duration?.buckets ?? {}))).toEqual(new Set([...(FAMILIES.httpDuration.buckets ?? []).map(String), '+Inf']))
    // Families with no series yet are still announced, with no samples.
    expect(family(families, 'cic_tokens_total').metrics).toEqual([])
  })

  it('reads _sum and _count of a histogram (label-less here, the one shape the parser keeps them for)', () => {
    const summed = summedOf(...histogramDeltas(FAMILIES.ttft, {}, 0.2), ...histogramDeltas(FAMILIES.ttft, {}, 1.3))
    const [ttft] = family(parsePrometheusTextFormat(renderExposition(summed)), 'cic_time_to_first_token_seconds').metrics
    expect(ttft).toMatchObject({ count: '2', buckets: { '0.1': '0', '0.25': '1', '2.5': '2', '+Inf': '2' } })
    expect(Number(ttft?.sum)).toBeCloseTo(1.5)
  })

  it('the parser is strict enough to catch a malformed line (so the checks above can fail)', () => {
    expect(() => parsePrometheusTextFormat('# TYPE x counter\nx{a=unquoted} 1\n')).toThrow()
    expect(() => parsePrometheusTextFormat('# TYPE x counter extra\nx 1\n')).toThrow()
  })
})
