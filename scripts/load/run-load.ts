// One load test against a prepared target (setup.ts): reads the ledger baseline and the limits in force,
// runs the open-loop schedule while sampling the concurrency-limited tenants' in-flight count, then checks
// the ledger and the limits and builds the report. Called by main.ts (`npm run load`) and by load.test.ts.
import http from 'node:http'
import { admissionState, type Admin } from './admin-client.ts'
import { disposition, isAdmitted } from './classify.ts'
import { checkLedger, expectLedger, readBaseline } from './ledger-check.ts'
import { checkConcurrency, checkRateLimits, type AdmittedRequest, type TenantLimits } from './limit-check.ts'
import { nextRequest, type LoadTarget } from './mix.ts'
import { realClock, runOpenLoop } from './open-loop.ts'
import { buildReport, type Report } from './report.ts'
import { arrivalTimes, seededRandom, type ArrivalMode } from './schedule.ts'
import { blankOutcome, sendRequest } from './send-request.ts'

export type RunOptions = {
  url: string
  admin: Admin
  target: LoadTarget
  ratePerSecond: number
  durationMs: number
  arrivals: ArrivalMode
  seed: number
  streamShare: number
  maxTokens: number
  maxInFlight: number
  /** How long to wait for the usage queue to drain into the ledger. */
  ledgerTimeoutMs: number
  /** A request with no byte for this long is abandoned (reported as client_timeout). */
  requestTimeoutMs: number
}

const SAMPLE_EVERY_MS = 250

/** Polls each concurrency-limited tenant's admission object; returns the most in flight seen per tenant. */
function sampleInFlight(admin: Admin, target: LoadTarget, limits: TenantLimits[]) {
  const most = limits.map(() => 0)
  const watched = target.tenants.flatMap((t, i) => (limits[i]!.concurrency > 0 ? [{ id: t.id, i }] : []))
  let busy = false
  const timer = setInterval(() => {
    if (busy || watched.length === 0) return
    busy = true
    Promise.all(
      watched.map(async ({ id, i }) => {
        most[i] = Math.max(most[i]!, (await admissionState(admin, id)).inFlight)
      }),
    )
      .catch(() => {}) // a missed sample only weakens the check
      .finally(() => {
        busy = false
      })
  }, SAMPLE_EVERY_MS)
  return {
    stop: () => {
      clearInterval(timer)
      return most
    },
  }
}

export async function runLoadTest(o: RunOptions): Promise<Report> {
  const { admin, target } = o
  const baseline = await readBaseline(admin, target)
  const limits: TenantLimits[] = (await Promise.all(target.tenants.map((t) => admissionState(admin, t.id)))).map(({ limits: l }) => ({
    rpm: l.rpm,
    keyRpm: l.keyRpm,
    concurrency: l.concurrency,
  }))
  // Two streams from one seed: the arrival times, and the request mix (drawn in index order, dropped ones too).
  const arrivals = arrivalTimes(o.ratePerSecond, o.durationMs, o.arrivals, seededRandom(o.seed))
  const mixRandom = seededRandom(o.seed + 1)
  const baseUrl = new URL(o.url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.maxInFlight })
  const sampler = sampleInFlight(admin, target, limits)
  const next = () => nextRequest(target, { streamShare: o.streamShare, maxTokens: o.maxTokens }, mixRandom)
  const { results } = await runOpenLoop({
    arrivals,
    maxInFlight: o.maxInFlight,
    clock: realClock,
    send: (index, dueAt) => {
      const spec = next()
      const tenant = target.tenants[spec.tenant]!
      return sendRequest(agent, baseUrl, tenant.keys[spec.key]!.key, spec, blankOutcome(index, spec, dueAt), o.requestTimeoutMs)
    },
    dropped: (index, dueAt) => blankOutcome(index, next(), dueAt),
  })
  const maxInFlightSeen = sampler.stop()
  agent.destroy()

  const ledger = await checkLedger(admin, target, expectLedger(results, target.tenants.length), baseline, { timeoutMs: o.ledgerTimeoutMs })
  const admitted: AdmittedRequest[] = results
    .filter((r) => isAdmitted(disposition(r)) && r.sentAt !== null && r.headersAt !== null)
    .map((r) => ({ tenant: r.spec.tenant, key: r.spec.key, from: r.sentAt!, to: r.headersAt! }))
  const findings = [...checkRateLimits(admitted, limits), ...checkConcurrency(maxInFlightSeen, limits)].map((f) => ({
    ...f,
    tenantName: target.tenants[f.tenant]!.name,
  }))
  return buildReport(
    {
      url: o.url,
      ratePerSecond: o.ratePerSecond,
      durationMs: o.durationMs,
      arrivals: o.arrivals,
      seed: o.seed,
      tenants: target.tenants.length,
      maxInFlight: o.maxInFlight,
    },
    results,
    ledger,
    { ok: findings.every((f) => f.ok), findings },
  )
}
