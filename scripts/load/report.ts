// Turns a run's outcomes and checks into the report: achieved rate against the target, status counts,
// latency and time-to-first-token percentiles (from each request's DUE time, see open-loop.ts), how late the
// client itself sent, 429s by admission layer, errors by code; printed as text or JSON (--json).
import { disposition, refusalLayer } from './classify.ts'
import type { LedgerResult } from './ledger-check.ts'
import type { LimitFinding } from './limit-check.ts'
import type { Outcome } from './send-request.ts'

export type Percentiles = { count: number; p50: number; p90: number; p99: number; max: number }

/** Nearest-rank percentiles (ms, 0.1 ms resolution); zeros for an empty set. */
export function percentiles(values: readonly number[]): Percentiles {
  const sorted = Float64Array.from(values).sort()
  const at = (p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!)
  const round = (n: number) => Math.round(n * 10) / 10
  return { count: sorted.length, p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(at(100)) }
}

export type RunInfo = { url: string; ratePerSecond: number; durationMs: number; arrivals: string; seed: number; tenants: number; maxInFlight: number }

export type Report = {
  run: RunInfo
  requests: { scheduled: number; sent: number; dropped: number; answered: number }
  /** Requests sent per second over the schedule, and answers per second until the last one ended. */
  rate: { target: number; sent: number; answered: number }
  status: Record<string, number>
  byKind: Record<string, number>
  latencyMs: { all: Percentiles; ok: Percentiles }
  ttftMs: Percentiles
  /** How late the client sent, after the due time (its own event loop): large values mean the client, not the server, limited the run. */
  sendLagMs: Percentiles
  rateLimited: Record<string, number>
  errors: Record<string, number>
  ledger: LedgerResult | null
  limits: { ok: boolean; findings: (LimitFinding & { tenantName: string })[] } | null
  ok: boolean
}

const bump = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1
}

export function buildReport(run: RunInfo, outcomes: readonly Outcome[], ledger: LedgerResult | null, limits: Report['limits']): Report {
  const sent = outcomes.filter((o) => o.sentAt !== null)
  const answered = sent.filter((o) => o.status !== null)
  const status: Record<string, number> = {}
  const byKind: Record<string, number> = {}
  const rateLimited: Record<string, number> = {}
  const errors: Record<string, number> = {}
  for (const o of sent) {
    bump(status, o.status === null ? 'no_response' : String(o.status))
    bump(byKind, o.spec.kind + (o.spec.stream ? '_stream' : ''))
    if (o.status === 429) bump(rateLimited, refusalLayer(o.errorCode, o.errorMessage))
    else if (o.errorCode !== null) bump(errors, `${o.status ?? 'no_response'} ${o.errorCode}`)
  }
  const ok = sent.filter((o) => disposition(o) === 'reached' && !o.streamBroken && o.status === 200)
  const firstDue = outcomes[0]?.dueAt ?? 0
  const lastEnd = answered.reduce((latest, o) => Math.max(latest, o.endAt ?? 0), firstDue) // no spread: 600k answers overflow the stack
  return {
    run,
    requests: { scheduled: outcomes.length, sent: sent.length, dropped: outcomes.length - sent.length, answered: answered.length },
    rate: {
      target: run.ratePerSecond,
      sent: Math.round((sent.length / (run.durationMs / 1000)) * 10) / 10,
      answered: lastEnd > firstDue ? Math.round((answered.length / ((lastEnd - firstDue) / 1000)) * 10) / 10 : 0,
    },
    status,
    byKind,
    latencyMs: { all: percentiles(answered.map((o) => o.endAt! - o.dueAt)), ok: percentiles(ok.map((o) => o.endAt! - o.dueAt)) },
    ttftMs: percentiles(ok.filter((o) => o.spec.stream && o.firstTokenAt !== null).map((o) => o.firstTokenAt! - o.dueAt)),
    sendLagMs: percentiles(sent.map((o) => o.sentAt! - o.dueAt)),
    rateLimited,
    errors,
    ledger,
    limits,
    ok: (ledger?.ok ?? true) && (limits?.ok ?? true),
  }
}

const fmtP = (p: Percentiles) => `p50 ${p.p50}  p90 ${p.p90}  p99 ${p.p99}  max ${p.max}  (n=${p.count})`
const fmtCounts = (r: Record<string, number>) =>
  Object.entries(r)
    .sort()
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ') || 'none'

export function formatReport(r: Report): string {
  const lines = [
    `Load test against ${r.run.url}: ${r.run.ratePerSecond} req/s for ${r.run.durationMs / 1000} s, ${r.run.arrivals} arrivals, seed ${r.run.seed}, ${r.run.tenants} tenants`,
    `  requests     scheduled ${r.requests.scheduled}, sent ${r.requests.sent}, dropped at the in-flight cap (${r.run.maxInFlight}) ${r.requests.dropped}, answered ${r.requests.answered}`,
    `  rate         target ${r.rate.target}/s, sent ${r.rate.sent}/s, answered ${r.rate.answered}/s`,
    `  status       ${fmtCounts(r.status)}`,
    `  kinds        ${fmtCounts(r.byKind)}`,
    `  latency ms   (from due time) all: ${fmtP(r.latencyMs.all)}`,
    `               200 ok: ${fmtP(r.latencyMs.ok)}`,
    `  ttft ms      ${fmtP(r.ttftMs)}`,
    `  send lag ms  ${fmtP(r.sendLagMs)}`,
    `  429 by layer ${fmtCounts(r.rateLimited)}`,
    `  errors       ${fmtCounts(r.errors)}`,
  ]
  if (r.ledger) {
    lines.push(
      `  ledger       ${r.ledger.ok ? 'PASS' : 'FAIL'}${r.ledger.exact ? ' (exact)' : ' (some responses could not be placed: range)'}, drained in ${r.ledger.waitedMs} ms`,
    )
    for (const t of r.ledger.tenants) {
      const expected = t.expected.min === t.expected.max ? `${t.expected.min}` : `${t.expected.min}..${t.expected.max}`
      const diff =
        t.counted < t.expected.min ? ` MISSING ${t.expected.min - t.counted}` : t.counted > t.expected.max ? ` EXTRA ${t.counted - t.expected.max}` : ''
      lines.push(
        `    ${t.tenant}: expected ${expected}, counted ${t.counted}${diff}; tokens client ${t.tokens.client ?? 'n/a'}, ledger ${t.tokens.ledger}${t.ok ? '' : '  <-- FAIL'}`,
      )
    }
  }
  if (r.limits) {
    lines.push(`  limits       ${r.limits.ok ? 'PASS' : 'FAIL'}`)
    for (const f of r.limits.findings) {
      const what = f.limit === 'concurrency' ? 'most in flight (sampled)' : 'most admitted in 60 s'
      lines.push(
        `    ${f.tenantName} ${f.limit}${f.key === undefined ? '' : ` key ${f.key}`}: allowed ${f.allowed}, ${what} ${f.observed}${f.ok ? '' : '  <-- FAIL'}`,
      )
    }
  }
  lines.push(r.ok ? 'PASS' : 'FAIL')
  return lines.join('\n')
}
