// What the Worker may import from the MetricsAggregator (and nothing else under durable-objects/metrics-aggregator/):
// the batch it is sent, the metric families (metric-registry.ts, the one list of what is counted) and the
// exposition renderer the scrape uses. The class itself is wired in index.ts.
export type { GaugeReport, MetricsBatch } from './metrics-aggregator.ts'
export { FAMILIES, formatLe, mergeDeltas, seriesKey, type Family, type Labels, type Sample } from './metric-registry.ts'
export { EXPOSITION_CONTENT_TYPE, renderExposition } from './exposition.ts'
