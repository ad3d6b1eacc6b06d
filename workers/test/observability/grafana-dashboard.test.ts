// The Grafana dashboard in the repo: valid JSON, and every cic_* metric its PromQL uses is in the exposition.
import { describe, expect, it } from 'vitest'
import dashboard from '../../../scripts/grafana/cic-dashboard.json'
import { FAMILY_LIST } from '../../../durable-objects/metrics-aggregator/metric-registry.ts'

type Panel = { title: string; targets: { expr: string }[] }

describe('scripts/grafana/cic-dashboard.json', () => {
  it('plots only metrics the gateway exposes, and every one of them', () => {
    const exposed = new Set(FAMILY_LIST.flatMap((f) => (f.type === 'histogram' ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name])))
    const used = new Set((dashboard.panels as Panel[]).flatMap((p) => p.targets.flatMap((t) => t.expr.match(/cic_[a-z_]+/g) ?? [])))
    expect(used.size).toBeGreaterThan(0)
    for (const name of used) expect(exposed, `${name} is not exposed`).toContain(name)
    for (const f of FAMILY_LIST)
      expect(
        [...used].some((u) => u.startsWith(f.name)),
        `${f.name} is not plotted`,
      ).toBe(true)
  })
})
