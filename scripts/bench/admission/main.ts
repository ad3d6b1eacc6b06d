// Admissions per second for ONE tenant's TenantGate object, locally in workerd (wrangler's dev runtime), against a no-op
// RPC to the same object in the same run; then admission slices (issue 19): four location objects at a steady rate
// within the limits, with no distance and with an 80 ms simulated round trip to the home, and the per-tenant ceiling
// computed from home calls per admission and the measured cost of one home call.
// Each steady run is made for a tenant without a budget and for one with a token and a money budget (budgets are
// sliced too: a budgeted tenant's steady state should not wait on the home either).
// Usage: npm run bench:admission [-- --n 20000 --rate 50 --seconds 12 --rtt 80] [--steady-only]
// Numbers are for this machine's workerd, not Cloudflare's edge; compare the ratio, not the absolutes.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { unstable_startWorker } from 'wrangler'

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '12' },
    rtt: { type: 'string', default: '80' },
    'steady-only': { type: 'boolean', default: false },
  },
})
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false' // no network here: skip fetching the Request.cf placeholder
const n = Number(values.n)
const concurrency = Number(values.concurrency)
const rounds = Number(values.rounds)
const rtt = Number(values.rtt)
const LOCATIONS = 4

/** The bench config with another simulated distance (a temp copy: main must stay an absolute path). */
function configWithRtt(ms: number): string {
  const source = path.join(import.meta.dirname, 'wrangler.toml')
  const text = readFileSync(source, 'utf8')
    .replace('main = "worker.ts"', `main = ${JSON.stringify(path.join(import.meta.dirname, 'worker.ts'))}`)
    .replace('ADMISSION_SIMULATED_RTT_MS = "0"', `ADMISSION_SIMULATED_RTT_MS = "${ms}"`)
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'cic-bench-')), 'wrangler.toml')
  writeFileSync(file, text)
  return file
}

async function withWorker<T>(config: string, run: (get: (route: string) => Promise<unknown>) => Promise<T>): Promise<T> {
  const worker = await unstable_startWorker({
    config,
    dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, persist: false, logLevel: 'error' },
  })
  try {
    await worker.ready
    const base = await worker.url
    return await run(async (route) => {
      const res = await fetch(new URL(route, base))
      if (!res.ok) throw new Error(`${route} -> ${res.status}: ${await res.text()}`)
      return res.json()
    })
  } finally {
    await worker.dispose()
  }
}

type Steady = {
  steadyAdmissions: number
  steadySeconds: number
  meanMs: number
  p50Ms: number
  p99Ms: number
  refused: number
  admitted: number
  waitedOnHome: number
  homeCalls: number
}

// Without a budget a tenant's admissions stay in memory; with one, each is written to SQLite (money).
const cases = [
  { name: 'ping', op: 'ping', budget: 0 },
  { name: 'admit', op: 'admit', budget: 0 },
  { name: 'admit_settle', op: 'admit_settle', budget: 0 },
  { name: 'admit (budget)', op: 'admit', budget: 1 },
  { name: 'admit_settle (budget)', op: 'admit_settle', budget: 1 },
  { name: 'admit (money budget)', op: 'admit', budget: 'money' },
  { name: 'admit_settle (money budget)', op: 'admit_settle', budget: 'money' },
  { name: 'location admit_settle', op: 'loc_admit_settle', budget: 0 },
] as const
const best: Record<string, number> = {}
const steady: Record<string, Steady> = {}
let exchangeRate = 0

await withWorker(configWithRtt(0), async (get) => {
  for (let round = 0; round < (values['steady-only'] ? 0 : rounds); round++) {
    for (const { name, op, budget } of cases) {
      const tenant = `bench-${op}-${budget}-${round}` // a fresh object per run: no state carried between measurements
      await get(`/setup?tenant=${tenant}&budget=${budget}`)
      const money = budget === 'money' ? '&money=1' : ''
      await get(`/run?tenant=${tenant}&op=${op}&n=200&concurrency=${concurrency}${money}`) // warm-up: isolate, JIT, SQLite
      const started = performance.now()
      await get(`/run?tenant=${tenant}&op=${op}&n=${n}&concurrency=${concurrency}${money}`)
      const perSecond = n / ((performance.now() - started) / 1000)
      best[name] = Math.max(best[name] ?? 0, perSecond)
    }
    const ex = (await get(`/exchange?tenant=bench-exchange-${round}&n=2000&entries=50&lanes=8`)) as { perSecond: number }
    exchangeRate = Math.max(exchangeRate, ex.perSecond)
  }
})
// The steady runs alternate between no distance and the distance, `rounds` times each; the round with the lowest mean
// admission time counts for each (this machine is shared: the lowest is the least disturbed).
for (let round = 0; round < rounds; round++) {
  for (const distance of [0, rtt]) {
    await withWorker(configWithRtt(distance), async (get) => {
      for (const budget of ['0', '1']) {
        const route = `/steady?tenant=bench-steady-${distance}-${budget}-${round}&locations=${LOCATIONS}&rate=${values.rate}&seconds=${values.seconds}&budget=${budget}`
        const s = (await get(route)) as Steady
        const key = budget === '1' ? `${distance}b` : String(distance)
        if (!steady[key] || s.meanMs < (steady[key]?.meanMs ?? Infinity)) steady[key] = s
      }
    })
  }
}

const ping = best.ping ?? 1
const isFull = !values['steady-only']
if (isFull) console.log(`one tenant object, ${n} calls per run, ${concurrency} in flight, best of ${rounds} rounds:`)
for (const { name } of isFull ? cases : []) {
  const rate = best[name] ?? 0
  console.log(`  ${name.padEnd(28)} ${Math.round(rate).toString().padStart(7)} calls/s  (${(rate / ping).toFixed(2)} x the no-op RPC)`)
}
if (isFull)
  console.log(
    `  ${'home exchange'.padEnd(22)} ${Math.round(exchangeRate).toString().padStart(7)} calls/s  (8 locations at once, 50 admissions reported per call)`,
  )

console.log(
  `\nslices: ${LOCATIONS} locations offered ${values.rate} req/s each for ${values.seconds} s, within the limits, each held 20 ms; steady state after 3 s:`,
)
for (const [key, s] of Object.entries(steady)) {
  const share = (100 * s.waitedOnHome) / Math.max(1, s.admitted)
  const distance = key.replace('b', '')
  const tenant = key.endsWith('b') ? 'budgeted (tokens + money)' : 'no budget'
  console.log(
    `  ${tenant.padEnd(25)} distance ${distance.padStart(3)} ms: ${(s.steadyAdmissions / Math.max(1, s.steadySeconds)).toFixed(0)} admissions/s; admission mean ${s.meanMs.toFixed(2)} ms, p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms;` +
      ` waited on home ${s.waitedOnHome}/${s.admitted} (${share.toFixed(2)} %); home calls per admission ${(s.homeCalls / Math.max(1, s.admitted)).toFixed(4)}; refused ${s.refused}`,
  )
}
const far = steady[String(rtt)]
const near = steady['0']
if (far && near) {
  console.log(`  added time to first token in the steady state (mean, ${rtt} ms vs 0 ms): ${(far.meanMs - near.meanMs).toFixed(2)} ms (target: within 2 ms)`)
  // Today every admission is one call to the tenant's one object: its ceiling is that object's admit rate. With slices
  // the home sees homeCalls/admitted calls per admission, and each location decides alone (one object per location).
  const today = best.admit_settle ?? 0
  const perCall = far.homeCalls / Math.max(1, far.admitted)
  const homeBound = perCall > 0 ? exchangeRate / perCall : Infinity
  const locationBound = LOCATIONS * (best['location admit_settle'] ?? 0)
  const ceiling = Math.min(homeBound, locationBound)
  if (isFull)
    console.log(
      `  per-tenant ceiling: today ${Math.round(today)}/s (one object); with slices min(home ${Math.round(exchangeRate)} calls/s / ${perCall.toFixed(4)} calls per admission = ${Math.round(homeBound)}/s,` +
        ` ${LOCATIONS} locations x ${Math.round(best['location admit_settle'] ?? 0)}/s = ${Math.round(locationBound)}/s) = ${Math.round(ceiling)}/s (${(ceiling / Math.max(1, today)).toFixed(1)} x today)`,
    )
}
const farBudget = steady[`${rtt}b`]
const nearBudget = steady['0b']
if (farBudget && nearBudget) {
  console.log(
    `  budgeted tenant: added time to first token (mean, ${rtt} ms vs 0 ms): ${(farBudget.meanMs - nearBudget.meanMs).toFixed(2)} ms;` +
      ` home calls per admission ${(farBudget.homeCalls / Math.max(1, farBudget.admitted)).toFixed(4)} (before budgets were sliced, main: every admission waited on the home, about 2 home calls per admission with its settle)`,
  )
}
