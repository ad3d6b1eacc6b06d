// Admissions per second for ONE tenant's TenantGate object, locally in workerd (wrangler's dev runtime),
// against a no-op RPC to the same object in the same run. Usage: npm run bench:admission [-- --n 20000]
// Numbers are for this machine's workerd, not Cloudflare's edge; compare the ratio, not the absolutes.
import path from 'node:path'
import { parseArgs } from 'node:util'
import { unstable_startWorker } from 'wrangler'

const { values } = parseArgs({
  options: { n: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '64' }, rounds: { type: 'string', default: '3' } },
})
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false' // no network here: skip fetching the Request.cf placeholder
const n = Number(values.n)
const concurrency = Number(values.concurrency)
const rounds = Number(values.rounds)

const worker = await unstable_startWorker({
  config: path.join(import.meta.dirname, 'wrangler.toml'),
  dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, persist: false, logLevel: 'error' },
})
try {
  await worker.ready
  const base = await worker.url
  const get = async (route: string) => {
    const res = await fetch(new URL(route, base))
    if (!res.ok) throw new Error(`${route} -> ${res.status}: ${await res.text()}`)
    return res.json()
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
  ] as const
  const best: Record<string, number> = {}
  for (let round = 0; round < rounds; round++) {
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
  }
  const ping = best.ping ?? 1
  console.log(`one tenant object, ${n} calls per run, ${concurrency} in flight, best of ${rounds} rounds:`)
  for (const { name } of cases) {
    const rate = best[name] ?? 0
    console.log(`  ${name.padEnd(28)} ${Math.round(rate).toString().padStart(7)} calls/s  (${(rate / ping).toFixed(2)} x the no-op RPC)`)
  }
} finally {
  await worker.dispose()
}
