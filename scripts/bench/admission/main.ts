// Admissions per second for ONE tenant's TenantGate object, locally in workerd (wrangler's dev runtime),
// against a no-op RPC to the same object in the same run. Usage: npm run bench:admission [-- --n 20000]
// Numbers are for this machine's workerd, not Cloudflare's edge; compare the ratio, not the absolutes.
import path from 'node:path'
import { parseArgs } from 'node:util'
import { unstable_startWorker } from 'wrangler'

const { values } = parseArgs({ options: { n: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '64' }, rounds: { type: 'string', default: '3' } } })
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
  const ops = ['ping', 'admit', 'admit_settle'] as const
  const best: Record<string, number> = {}
  for (let round = 0; round < rounds; round++) {
    for (const op of ops) {
      const tenant = `bench-${op}-${round}` // a fresh object per run: no state carried between measurements
      await get(`/setup?tenant=${tenant}`)
      await get(`/run?tenant=${tenant}&op=${op}&n=200&concurrency=${concurrency}`) // warm-up: isolate, JIT, SQLite
      const started = performance.now()
      await get(`/run?tenant=${tenant}&op=${op}&n=${n}&concurrency=${concurrency}`)
      const perSecond = n / ((performance.now() - started) / 1000)
      best[op] = Math.max(best[op] ?? 0, perSecond)
    }
  }
  const ping = best.ping ?? 1
  console.log(`one tenant object, ${n} calls per run, ${concurrency} in flight, best of ${rounds} rounds:`)
  for (const op of ops) {
    const rate = best[op] ?? 0
    console.log(`  ${op.padEnd(13)} ${Math.round(rate).toString().padStart(7)} calls/s  (${(rate / ping).toFixed(2)} x the no-op RPC)`)
  }
} finally {
  await worker.dispose()
}
