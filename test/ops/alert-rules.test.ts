// The Prometheus alert rules: promtool accepts them, its unit tests (cic-alerts.test.yml) show every alert
// firing and not firing when it should, each rule carries what an on-call needs, and every metric they read
// is one CIC exports (metric-registry.ts).
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { FAMILY_LIST } from '../../durable-objects/metrics-aggregator/metric-registry.ts'
import { PROMTOOL_MISSING, REPO_ROOT, RULE_TESTS_FILE, RULES_FILE, alertsShownFiring, metricNamesIn, readAlertRules, runPromtool } from './alert-rules.ts'

/** Every sample name CIC's /metrics can carry: counters and gauges by name, histograms with their three suffixes. */
function exportedSampleNames(): Set<string> {
  return new Set(FAMILY_LIST.flatMap((f) => (f.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => f.name + s) : [f.name])))
}

const rules = readAlertRules()

describe('alert rules', () => {
  it('are accepted by promtool check rules', () => {
    const r = runPromtool(['check', 'rules', RULES_FILE])
    expect(r.output).toContain('SUCCESS')
    expect(r.status, r.output).toBe(0)
  })

  it('pass their promtool unit tests (each alert fires on synthetic series, and stays quiet below its threshold)', () => {
    const r = runPromtool(['test', 'rules', RULE_TESTS_FILE])
    expect(r.status, r.output).toBe(0)
  })

  it('every alert is shown firing by a unit test', () => {
    const shown = alertsShownFiring()
    expect(rules.map((r) => r.alert).filter((name) => !shown.has(name))).toEqual([])
  })

  it('promtool check rules refuses a broken rules file (so the check above can fail)', () => {
    const r = runPromtool(['check', 'rules', path.join(REPO_ROOT, 'test/ops/fixtures/broken-alerts.rules.yml')])
    expect(r.status).not.toBe(0)
    expect(r.output).toMatch(/FAILED/)
  })

  it('a missing promtool fails with a message naming the Debian package', () => {
    expect(() => runPromtool(['--version'], '/nonexistent')).toThrow(PROMTOOL_MISSING)
    expect(PROMTOOL_MISSING).toContain('`prometheus` package')
  })

  it('each rule has for:, a severity, summary, description and runbook_url', () => {
    for (const rule of rules) {
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/)
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels?.severity)
      for (const key of ['summary', 'description', 'runbook_url']) expect(rule.annotations?.[key], `${rule.alert}: ${key}`).toBeTruthy()
    }
  })

  it('read only metrics CIC exports', () => {
    const exported = exportedSampleNames()
    const unknown = rules.flatMap((r) =>
      metricNamesIn(r.expr)
        .filter((name) => !exported.has(name))
        .map((name) => `${r.alert}: ${name}`),
    )
    expect(unknown).toEqual([])
    expect(rules.filter((r) => metricNamesIn(r.expr).length === 0).map((r) => r.alert)).toEqual([]) // each reads CIC's own series
  })

  it('the metric check catches a name CIC does not export', () => {
    const exported = exportedSampleNames()
    expect(metricNamesIn('rate(cic_http_requests_total[5m]) / cic_no_such_metric').filter((n) => !exported.has(n))).toEqual(['cic_no_such_metric'])
    expect(exported.has('cic_time_to_first_token_seconds_bucket')).toBe(true)
    expect(exported.has('cic_time_to_first_token_seconds')).toBe(false) // a histogram has no bare sample
  })
})
