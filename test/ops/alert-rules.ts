// Reads the Prometheus alert rules (scripts/prometheus/cic-alerts.rules.yml) and runs promtool on them, for the
// ops tests (alert-rules.test.ts, runbooks.test.ts). promtool comes with Debian's `prometheus` package.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { z } from 'zod'

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..')
export const RULES_FILE = path.join(REPO_ROOT, 'scripts/prometheus/cic-alerts.rules.yml')
export const RULE_TESTS_FILE = path.join(REPO_ROOT, 'scripts/prometheus/cic-alerts.test.yml')

const alertRuleSchema = z.object({
  alert: z.string(),
  expr: z.string(),
  for: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
})
const rulesFileSchema = z.object({ groups: z.array(z.object({ name: z.string(), rules: z.array(alertRuleSchema) })) })
export type AlertRule = z.infer<typeof alertRuleSchema>

export function readAlertRules(file = RULES_FILE): AlertRule[] {
  return rulesFileSchema.parse(parse(readFileSync(file, 'utf8'))).groups.flatMap((g) => g.rules)
}

const ruleTestsSchema = z.object({
  tests: z.array(
    z.object({
      alert_rule_test: z.array(z.object({ alertname: z.string(), exp_alerts: z.array(z.unknown()) })).optional(),
    }),
  ),
})

/** Alert names that some promtool unit test expects to fire (a non-empty `exp_alerts`). */
export function alertsShownFiring(file = RULE_TESTS_FILE): Set<string> {
  const tests = ruleTestsSchema.parse(parse(readFileSync(file, 'utf8'))).tests
  return new Set(
    tests
      .flatMap((t) => t.alert_rule_test ?? [])
      .filter((c) => c.exp_alerts.length > 0)
      .map((c) => c.alertname),
  )
}

export const PROMTOOL_MISSING =
  "promtool is not installed: it comes with Debian's `prometheus` package " + '(apt-get install -y prometheus; .ci/run installs it when missing)'

/** Runs promtool; throws PROMTOOL_MISSING when it is not on PATH. `pathEnv` replaces PATH (for the test of that message). */
export function runPromtool(args: string[], pathEnv = process.env.PATH): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', cwd: REPO_ROOT, env: { ...process.env, PATH: pathEnv } })
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(PROMTOOL_MISSING)
    throw r.error
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

/** The `cic_*` sample names an expression reads (histogram samples keep their `_bucket`/`_sum`/`_count`). */
export function metricNamesIn(expr: string): string[] {
  return [...new Set(expr.match(/\bcic_[a-z0-9_]+/g) ?? [])]
}
