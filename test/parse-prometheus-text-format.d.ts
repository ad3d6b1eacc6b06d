// Types for parse-prometheus-text-format (ships none), as far as test/metrics-exposition.test.ts uses it.
// Values stay strings, as the parser returns them; histograms are flattened into `buckets`, `count`, `sum`.
declare module 'parse-prometheus-text-format' {
  export type ParsedSample = {
    labels?: Record<string, string>
    value?: string
    buckets?: Record<string, string>
    count?: string
    sum?: string
    timestamp_ms?: string
  }
  export type ParsedFamily = { name: string; help: string; type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'; metrics: ParsedSample[] }
  /** Throws (InvalidLineError) on a line that is not valid text exposition. */
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[]
}
