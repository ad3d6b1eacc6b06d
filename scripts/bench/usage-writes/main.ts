// Benchmark: usage events per second that the queue consumer writes into local D1 (workerd + miniflare's
// SQLite, on disk), at several batch sizes, next to baselines writing the same events and the same exactly-once
// rollup with other INSERT shapes. The loop runs inside workerd (worker.ts), so only D1 work is timed.
// Prints a table; asserts nothing about speed, only that every run left exactly its events and rollups.
//   npm run bench:usage [-- events=20000 rounds=3]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { readD1Migrations } from '@cloudflare/vitest-plugin'
import { unstable_startWorker } from 'wrangler'
// Mirrors worker.ts's RunRequest/RunResult (not imported: worker.ts is typechecked as Worker code).
type RunRequest = { strategy: 'consumer' | 'values7' | 'singleRow'; batchSize: number; events: number; label: string }
type RunResult = { wallMs: number; sqlMs: number; batches: number; ok: boolean; check: unknown }

process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false' // no network here; the bench needs no Request.cf

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=') as [string, string]))
const TOTAL = Number(args.events ?? 20_000)
const ROUNDS = Number(args.rounds ?? 3)

const CASES: { name: string; strategy: RunRequest['strategy']; batchSize: number; events: number }[] = [
  { name: 'consumer (1 json_each INSERT + rollup), batch 100', strategy: 'consumer', batchSize: 100, events: TOTAL },
  { name: 'consumer, batch 10', strategy: 'consumer', batchSize: 10, events: Math.ceil(TOTAL / 5) },
  { name: 'consumer, batch 1 (no batching)', strategy: 'consumer', batchSize: 1, events: Math.ceil(TOTAL / 20) },
  { name: 'baseline: 7-row VALUES INSERTs + rollup, batch 100', strategy: 'values7', batchSize: 100, events: TOTAL },
  { name: 'baseline: single-row INSERTs + rollup, batch 100', strategy: 'singleRow', batchSize: 100, events: TOTAL },
]

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'cic-bench-usage-'))
  const worker = await unstable_startWorker({
    config: path.join(import.meta.dirname, 'wrangler.toml'), // its own config, not the gateway's
    dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, persist: dir, remote: false, logLevel: 'warn' },
  })
  try {
    await worker.ready
    const post = async <T>(route: string, body: unknown): Promise<T> => {
      const res = await worker.fetch(`http://bench${route}`, { method: 'POST', body: JSON.stringify(body) })
      if (!res.ok) throw new Error(`${route}: ${res.status} ${await res.text()}`)
      return (route === '/run' ? res.json() : res.text()) as Promise<T>
    }
    await post('/migrate', await readD1Migrations(path.join(ROOT, 'd1-migrations')))
    await post<RunResult>('/run', { strategy: 'consumer', batchSize: 100, events: 2000, label: 'warmup' })
    console.log(`usage events -> local D1 ledger + hourly rollup (${dir}); best of ${ROUNDS} rounds; exactly-once checked after every run\n`)
    console.log('case'.padEnd(54) + 'events'.padStart(7) + 'events/s'.padStart(10) + 'ms/batch'.padStart(10) + 'SQL ms/batch'.padStart(14))
    for (const [i, c] of CASES.entries()) {
      let best: RunResult | null = null
      for (let r = 0; r < ROUNDS; r++) {
        const result = await post<RunResult>('/run', { strategy: c.strategy, batchSize: c.batchSize, events: c.events, label: `c${i}r${r}` })
        if (!result.ok) throw new Error(`${c.name}: ledger/rollup check failed ${JSON.stringify(result.check)}`)
        if (!best || result.wallMs < best.wallMs) best = result
      }
      if (!best) continue
      const perSecond = Math.round((c.events / Math.max(1, best.wallMs)) * 1000)
      console.log(c.name.padEnd(54) + String(c.events).padStart(7) + String(perSecond).padStart(10)
        + (best.wallMs / best.batches).toFixed(2).padStart(10) + (best.sqlMs / best.batches).toFixed(2).padStart(14))
    }
  } finally {
    await worker.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
