// Renders summed series in Prometheus text exposition format 0.0.4: one `# HELP` and `# TYPE` per family
// (also for families with no series yet), then its samples; histograms get every bucket of the family for
// each label set (a bucket never incremented is 0: no observation was that small), +Inf, `_sum`, `_count`.
// Pure; called by services/metrics/scrape.ts with the sum of all MetricsAggregator shards and the node gauges.
import { FAMILY_LIST, formatLe, parseSeriesKey, type Family, type Labels, type Sample } from './metric-registry.ts'

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const escapeHelp = (text: string) => text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
const escapeValue = (text: string) => text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

function line(name: string, labels: Labels, value: number): string {
  const entries = Object.entries(labels)
  const rendered = entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}}`
  return `${name}${rendered} ${formatNumber(value)}`
}

const sortedLabels = (labels: Labels): Labels => Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
const withoutLe = (labels: Labels): Labels => Object.fromEntries(Object.entries(labels).filter(([k]) => k !== 'le'))

function familyOf(name: string, byName: Map<string, Family>): Family | undefined {
  const direct = byName.get(name)
  if (direct) return direct
  const base = name.replace(/_(bucket|sum|count)$/, '')
  const family = byName.get(base)
  return family?.type === 'histogram' ? family : undefined
}

function renderHistogram(family: Family, samples: Sample[]): string[] {
  const groups = new Map<string, { labels: Labels; buckets: Map<string, number>; sum: number; count: number }>()
  for (const s of samples) {
    const labels = sortedLabels(withoutLe(s.labels))
    const key = JSON.stringify(labels)
    let group = groups.get(key)
    if (!group) groups.set(key, (group = { labels, buckets: new Map(), sum: 0, count: 0 }))
    if (s.name.endsWith('_bucket')) group.buckets.set(s.labels.le ?? '', s.value)
    else if (s.name.endsWith('_sum')) group.sum = s.value
    else group.count = s.value
  }
  const out: string[] = []
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key) as NonNullable<ReturnType<typeof groups.get>>
    for (const bound of [...(family.buckets ?? []), Infinity]) {
      out.push(line(`${family.name}_bucket`, { ...g.labels, le: formatLe(bound) }, g.buckets.get(formatLe(bound)) ?? 0))
    }
    out.push(line(`${family.name}_sum`, g.labels, g.sum), line(`${family.name}_count`, g.labels, g.count))
  }
  return out
}

/**
 * `summed`: series key → value (counters, histogram parts, aggregated gauges); `gauges`: samples computed at
 * scrape time. Series of names outside the registry are dropped (never rendered without HELP/TYPE).
 */
export function renderExposition(summed: ReadonlyMap<string, number>, gauges: readonly Sample[] = []): string {
  const byName = new Map(FAMILY_LIST.map((f) => [f.name, f]))
  const perFamily = new Map<string, Sample[]>(FAMILY_LIST.map((f) => [f.name, []]))
  const samples: Sample[] = [...[...summed].map(([key, value]) => ({ ...parseSeriesKey(key), value })), ...gauges]
  for (const s of samples) {
    const family = familyOf(s.name, byName)
    if (family) perFamily.get(family.name)?.push(s)
  }
  const out: string[] = []
  for (const family of FAMILY_LIST) {
    out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`)
    const own = perFamily.get(family.name) ?? []
    if (family.type === 'histogram') out.push(...renderHistogram(family, own))
    else {
      const rows = own.map((s) => ({ labels: sortedLabels(s.labels), value: s.value }))
      rows.sort((a, b) => (JSON.stringify(a.labels) < JSON.stringify(b.labels) ? -1 : 1))
      out.push(...rows.map((r) => line(family.name, r.labels, r.value)))
    }
  }
  return `${out.join('\n')}\n`
}
