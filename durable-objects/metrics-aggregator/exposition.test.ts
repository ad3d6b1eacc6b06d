// The pure core: series keys, histogram deltas, and the exposition text (checked by the strict test parser).
import { describe, expect, it } from 'vitest'
import { parsePrometheusText, sampleValue } from '../../workers/test/helpers/prom-text.ts'
import { renderExposition } from './exposition.ts'
import { FAMILIES, FAMILY_LIST, histogramDeltas, mergeDeltas, seriesKey } from './metric-registry.ts'

const sum = (...batches: ReturnType<typeof histogramDeltas>[]) => {
  const summed = new Map<string, number>()
  for (const batch of batches)
    mergeDeltas(
      summed,
      batch.map((s) => [seriesKey(s.name, s.labels), s.value] as const),
    )
  return summed
}

describe('metric registry', () => {
  it('keys a series the same whatever the label order', () => {
    expect(seriesKey('x_total', { b: '2', a: '1' })).toBe(seriesKey('x_total', { a: '1', b: '2' }))
    expect(seriesKey('x_total', { a: '1' })).not.toBe(seriesKey('x_total', { a: '2' }))
  })

  it('turns an observation into cumulative bucket, +Inf, _sum and _count increments', () => {
    const deltas = histogramDeltas(FAMILIES.overhead, { route: '/x' }, 0.3)
    const les = deltas.filter((d) => d.name.endsWith('_bucket')).map((d) => d.labels.le)
    expect(les).toEqual(['0.5', '1', '2.5', '5', '10', '30', '60', '120', '300', '+Inf'])
    expect(deltas.find((d) => d.name.endsWith('_sum'))?.value).toBe(0.3)
  })
})

describe('renderExposition', () => {
  it('renders HELP/TYPE for every family, sums shards, fills missing buckets with 0', () => {
    const shardA = sum(histogramDeltas(FAMILIES.httpDuration, { method: 'GET', route: '/health' }, 0.002))
    const shardB = sum(histogramDeltas(FAMILIES.httpDuration, { method: 'GET', route: '/health' }, 7))
    const summed = new Map(shardA)
    mergeDeltas(summed, shardB)
    mergeDeltas(summed, [[seriesKey('cic_http_requests_total', { method: 'GET', route: '/health', status: '200' }), 2]])
    const text = renderExposition(summed, [{ name: 'cic_node_up', labels: { node: 'nod_1' }, value: 1 }])
    const families = parsePrometheusText(text)
    expect([...families.keys()]).toEqual(FAMILY_LIST.map((f) => f.name))
    const labels = { method: 'GET', route: '/health' }
    expect(sampleValue(families, 'cic_http_request_duration_seconds_bucket', { ...labels, le: '0.001' })).toBe(0)
    expect(sampleValue(families, 'cic_http_request_duration_seconds_bucket', { ...labels, le: '0.0025' })).toBe(1)
    expect(sampleValue(families, 'cic_http_request_duration_seconds_bucket', { ...labels, le: '10' })).toBe(2)
    expect(sampleValue(families, 'cic_http_request_duration_seconds_count', labels)).toBe(2)
    expect(sampleValue(families, 'cic_http_request_duration_seconds_sum', labels)).toBeCloseTo(7.002)
    expect(sampleValue(families, 'cic_http_requests_total', { ...labels, status: '200' })).toBe(2)
    expect(sampleValue(families, 'cic_node_up', { node: 'nod_1' })).toBe(1)
  })

  it('escapes label values and drops series outside the registry', () => {
    const summed = new Map([
      [seriesKey('cic_upstream_errors_total', { node: 'a"b\\c\nd', kind: 'x' }), 1],
      [seriesKey('not_ours_total', {}), 5],
    ])
    const text = renderExposition(summed)
    expect(text).toContain('cic_upstream_errors_total{kind="x",node="a\\"b\\\\c\\nd"} 1')
    expect(text).not.toContain('not_ours')
    expect(sampleValue(parsePrometheusText(text), 'cic_upstream_errors_total', { kind: 'x', node: 'a"b\\c\nd' })).toBe(1)
  })

  it('the test parser rejects malformed text (so the end-to-end checks can fail)', () => {
    expect(() => parsePrometheusText('x_total 1\n')).toThrow(/no # TYPE/)
    expect(() => parsePrometheusText('# HELP x x\n# TYPE x counter\nx 1\n')).toThrow(/_total/)
    expect(() => parsePrometheusText('# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')).toThrow(/cumulative/)
    expect(() => parsePrometheusText('# HELP h h\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n')).toThrow(/_count/)
    expect(() => parsePrometheusText('# HELP g g\n# TYPE g gauge\ng{a="\\q"} 1\n')).toThrow(/escape/)
  })
})
