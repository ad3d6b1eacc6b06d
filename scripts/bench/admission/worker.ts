// Bench-only Worker (scripts/bench/admission/main.ts starts it): runs a batch of RPCs against one tenant's
// TenantGate from inside workerd, so the measurement is the object's round trip, not HTTP to Node.
// GET /setup?tenant=&budget=0|1|money  configures the tenant with limits that never refuse (every admit does the
//   full work); with budget=1 (the default, tokens) or money (budget_micro_usd, the reservation carries a price) its
//   admissions are written to storage, with budget=0 they stay in memory.
// GET /run?tenant=&op=ping|admit|admit_settle|loc_admit_settle&n=&concurrency=  runs n calls, at most `concurrency` at
//   once (loc_admit_settle: at the tenant's `apac` location object, from its slice).
// GET /steady: four (or `locations`) location objects of one tenant admit at a steady `rate` per second each for `seconds`
//   (budget=1: the tenant has a token and a money budget, far above the load, and the reservation carries a price),
//   each request held `holdMs` then settled at its location; reports the admission latency after `warmupS` (what the
//   distance adds to time to first token), the share that waited on the home, and home calls per admission.
// GET /exchange: the home's cost of one exchange carrying `entries` reported admissions (the per-call cost in the ceiling).
import { AdmissionLocation } from '../../../durable-objects/admission-location/admission-location.ts'
import { TenantGate } from '../../../durable-objects/tenant-gate/tenant-gate.ts'
import { locationName, type LocationHint } from '../../../durable-objects/admission-location/contract.ts'

export { AdmissionLocation, TenantGate }

export type BenchEnv = { TENANT_GATE: DurableObjectNamespace<TenantGate>; ADMISSION_LOCATION: DurableObjectNamespace<AdmissionLocation> }
const reservation = { promptTokens: 20, completionTokens: 100, isCompletionGuess: false, promptBound: 1_100 }
/** A money budget's reservation: the same tokens at $0.60/M in, $2.40/M out. */
const pricedReservation = { ...reservation, price: { inputMicroUsdPerMTok: 600_000, outputMicroUsdPerMTok: 2_400_000 } }

export default {
  async fetch(request: Request, env: BenchEnv): Promise<Response> {
    const url = new URL(request.url)
    const tenantId = url.searchParams.get('tenant') ?? 'bench'
    const gate = env.TENANT_GATE.getByName(`tenant:${tenantId}`)
    if (url.pathname === '/setup') {
      // Limits high enough never to refuse, but set, so every admission checks and records all four layers,
      // and the budget (the one limit whose entries are written to storage) unless budget=0.
      const kind = url.searchParams.get('budget')
      const budget = kind === '0' ? {} : kind === 'money' ? { budget_micro_usd: 1_000_000_000_000 } : { budget_tokens: 2_000_000_000 }
      const limits = { rpm: 100_000_000, tpm: 2_000_000_000, concurrency: 1_000_000, key_rpm: 100_000_000, ...budget }
      await gate.configure({ tenantId, status: 'active', statusReason: null, plan: 'enterprise', limits })
      return Response.json({ ok: true })
    }
    if (url.pathname === '/steady') return Response.json(await steadyRun(env, tenantId, url.searchParams))
    if (url.pathname === '/exchange') return Response.json(await exchangeRun(env, tenantId, url.searchParams))
    const op = url.searchParams.get('op') ?? 'ping'
    const n = Number(url.searchParams.get('n') ?? 1000)
    const concurrency = Number(url.searchParams.get('concurrency') ?? 32)
    const isMoney = url.searchParams.get('money') === '1'
    const one = async () => {
      if (op === 'ping') return gate.ping()
      if (op === 'loc_admit_settle') {
        const name = locationName(tenantId, 'apac')
        const loc = env.ADMISSION_LOCATION.getByName(name)
        const [r] = await loc.admitMany({ location: name, admits: [{ tenantId, keyId: 'bench-key', reservation }], settles: [] })
        if (!r?.ok) throw new Error(`refused: ${JSON.stringify(r)}`)
        if (r.leaseId) await loc.settleMany([{ leaseId: r.leaseId, usedTokens: 60 }], name)
        return
      }
      const result = await gate.admit({ tenantId, keyId: 'bench-key', reservation: isMoney ? pricedReservation : reservation })
      if (!result.ok) throw new Error(`refused: ${JSON.stringify(result)}`)
      if (op === 'admit_settle' && result.leaseId) await gate.settle(result.leaseId, 60, isMoney ? 90 : undefined)
    }
    let next = 0
    const lane = async () => {
      while (next++ < n) await one()
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
    return Response.json({ ok: true, n })
  },
}

const HINTS: LocationHint[] = ['apac', 'enam', 'weur', 'oc', 'wnam', 'eeur', 'sam', 'afr', 'me']
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function steadyRun(env: BenchEnv, tenantId: string, q: URLSearchParams) {
  const locations = HINTS.slice(0, Number(q.get('locations') ?? 4))
  const rate = Number(q.get('rate') ?? 50)
  const seconds = Number(q.get('seconds') ?? 12)
  const warmupMs = Number(q.get('warmupS') ?? 3) * 1000
  const holdMs = Number(q.get('holdMs') ?? 20)
  // Limits well above the offered load (a steady rate within the limits), all four layers set.
  const total = rate * locations.length * 60
  const isBudgeted = q.get('budget') === '1'
  const budgets = isBudgeted ? { budget_tokens: 2_000_000_000, budget_micro_usd: 1_000_000_000_000 } : {}
  const limits = { rpm: total * 2, tpm: total * 2 * 200, concurrency: 10_000, key_rpm: total * 2, ...budgets }
  const res = isBudgeted ? pricedReservation : reservation
  await env.TENANT_GATE.getByName(`tenant:${tenantId}`).configure({ tenantId, status: 'active', statusReason: null, plan: 'enterprise', limits })
  const latencies: number[] = []
  let refused = 0
  const started = Date.now()
  const inFlight: Promise<unknown>[] = []
  const one = async (hint: LocationHint) => {
    const name = locationName(tenantId, hint)
    const loc = env.ADMISSION_LOCATION.getByName(name)
    const t0 = performance.now()
    const [r] = await loc.admitMany({ location: name, admits: [{ tenantId, keyId: 'bench-key', reservation: res, leaseTtlMs: 60_000 }], settles: [] })
    const ms = performance.now() - t0
    if (!r?.ok) {
      refused++
      return
    }
    if (Date.now() - started >= warmupMs) latencies.push(ms)
    await sleep(holdMs)
    if (r.leaseId) await loc.settleMany([{ leaseId: r.leaseId, usedTokens: 60, ...(isBudgeted ? { usedMicroUsd: 90 } : {}) }], name)
  }
  const pace = async (hint: LocationHint) => {
    const gap = 1000 / rate
    for (let next = Date.now(); Date.now() - started < seconds * 1000; ) {
      inFlight.push(one(hint))
      next += gap
      await sleep(Math.max(0, next - Date.now()))
    }
  }
  const statsNow = () => Promise.all(locations.map((hint) => env.ADMISSION_LOCATION.getByName(locationName(tenantId, hint)).inspect()))
  // The steady state starts after the warm-up: counters are read then and at the end, and only the difference counts.
  const atWarm = sleep(warmupMs).then(statsNow)
  await Promise.all(locations.map(pace))
  await Promise.all(inFlight)
  const [before, after] = [await atWarm, await statsNow()]
  const sum = (k: 'decidedHere' | 'waitedOnHome' | 'homeCalls') => after.reduce((n, s) => n + (s?.[k] ?? 0), 0) - before.reduce((n, s) => n + (s?.[k] ?? 0), 0)
  const sorted = [...latencies].sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0
  const admitted = sum('decidedHere') + sum('waitedOnHome')
  return {
    steadyAdmissions: latencies.length,
    steadySeconds: (Date.now() - started - warmupMs) / 1000,
    meanMs: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    refused,
    admitted,
    waitedOnHome: sum('waitedOnHome'),
    homeCalls: sum('homeCalls'),
  }
}

/** `lanes` simulated locations at once, n exchanges in all, each reporting `entries` admissions and asking as many more. */
export async function exchangeRun(env: BenchEnv, tenantId: string, q: URLSearchParams) {
  const n = Number(q.get('n') ?? 2000)
  const entries = Number(q.get('entries') ?? 50)
  const lanes = Number(q.get('lanes') ?? 8)
  const gate = env.TENANT_GATE.getByName(`tenant:${tenantId}`)
  const limits = { rpm: 1_000_000_000, tpm: 2_000_000_000, concurrency: 1_000_000, key_rpm: 1_000_000_000 }
  await gate.configure({ tenantId, status: 'active', statusReason: null, plan: 'enterprise', limits })
  let left = n
  const lane = async () => {
    const instance = crypto.randomUUID()
    let granted = 0
    let reported = 0
    for (let seq = 1; left-- > 0; seq++) {
      const report = Array.from({ length: seq === 1 ? 0 : entries }, (_, i) => ({
        id: `${instance}#${seq}-${i}`,
        keyId: 'bench-key',
        ageMs: 5,
        tokens: 120,
        isOpen: false,
      }))
      const used = reported + report.length
      const answer = await gate.exchange({
        tenantId,
        location: `loc:${tenantId}:bench`,
        instance,
        seq,
        holding: { requests: granted, tokens: granted * 120, 'key:bench-key': granted },
        used: { requests: used, tokens: used * 120, 'key:bench-key': used },
        firstIndex: reported,
        entries: report,
        want: { requests: entries, tokens: entries * 120, 'key:bench-key': entries },
        keyRpm: { 'bench-key': limits.key_rpm },
        leaseTtlMs: 60_000,
        leaseHorizonMs: 0,
        settles: [],
        admits: [],
      })
      if (!answer.ok) throw new Error('exchange refused')
      reported = used
      granted = answer.holding.requests ?? granted
    }
  }
  const t0 = Date.now()
  await Promise.all(Array.from({ length: lanes }, lane))
  return { n, entries, lanes, perSecond: n / ((Date.now() - t0) / 1000) }
}
