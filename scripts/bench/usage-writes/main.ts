// Benchmark: usage events per second that the queue consumer writes into local D1 (workerd + miniflare's
// SQLite, on disk), packed several per message and one per message, with the rows D1 reports written and the
// bytes each table holds, then the retention prune's rows written. The loop runs inside workerd (worker.ts), so
// only D1 work is timed. Prints a table and the per-million-requests figures the README quotes; asserts nothing
// about speed, only that every run left exactly its events and rollups.
//   npm run bench:usage [-- events=20000 rounds=3]
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { DatabaseSync } from 'node:sqlite'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { readD1Migrations } from '@cloudflare/vitest-plugin'
import { unstable_startWorker } from 'wrangler'
// Mirrors worker.ts's types (not imported: worker.ts is typechecked as Worker code).
type RunRequest = { isPacked: boolean; messagesPerBatch: number; events: number; label: string }
type Bytes = Record<string, number>
type RunResult = { wallMs: number; sqlMs: number; batches: number; rowsWritten: number; ok: boolean; check: unknown }
type PruneResult = { rowsWritten: number; events: number }

process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false' // no network here; the bench needs no Request.cf

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=') as [string, string]))
const TOTAL = Number(args.events ?? 20_000)
const ROUNDS = Number(args.rounds ?? 3)

const CASES: { name: string; isPacked: boolean; messagesPerBatch: number; events: number }[] = [
  { name: 'packed messages (<=200 events each), batch of 10 messages', isPacked: true, messagesPerBatch: 10, events: TOTAL },
  { name: 'packed messages, batch of 1 message', isPacked: true, messagesPerBatch: 1, events: TOTAL },
  { name: 'one event per message (before packing), batch 100', isPacked: false, messagesPerBatch: 100, events: TOTAL },
  { name: 'one event per message, batch 10', isPacked: false, messagesPerBatch: 10, events: Math.ceil(TOTAL / 5) },
]

/** Bytes per table and index of the local D1 file (SQLite's dbstat; D1 refuses dbstat and PRAGMA page_count to a Worker). */
function bytesOnDisk(dir: string): Bytes {
  const found = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('.sqlite') && f.includes('D1') && !f.endsWith('metadata.sqlite'),
  )
  const file = found[0]
  if (found.length !== 1 || file === undefined) throw new Error(`expected one D1 sqlite file under ${dir}, found ${found.join(', ')}`)
  const db = new DatabaseSync(path.join(dir, file), { readOnly: true })
  try {
    const rows = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all()
    return Object.fromEntries(rows.map((r) => [String(r.name), Number(r.bytes)]))
  } finally {
    db.close()
  }
}

const sumBytes = (b: Bytes, match: (name: string) => boolean) =>
  Object.entries(b ?? {})
    .filter(([n]) => match(n))
    .reduce((n, [, v]) => n + v, 0)
const isEvents = (n: string) => n === 'usage_events' || n.startsWith('sqlite_autoindex_usage_events')
const isHourly = (n: string) => n.startsWith('usage_hourly') || n.startsWith('sqlite_autoindex_usage_hourly')

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
      return (route === '/migrate' ? res.text() : res.json()) as Promise<T>
    }
    await post('/migrate', await readD1Migrations(path.join(ROOT, 'd1-migrations')))
    await post<RunResult>('/run', { isPacked: true, messagesPerBatch: 10, events: 2000, label: 'warmup' })
    await post<PruneResult>('/prune', {})
    console.log(`usage events -> local D1 ledger + rollups (${dir}); best of ${ROUNDS} rounds; exactly-once checked after every run\n`)
    console.log('case'.padEnd(60) + 'events'.padStart(7) + 'events/s'.padStart(10) + 'SQL ms/batch'.padStart(14) + 'rows written/event'.padStart(20))
    for (const [i, c] of CASES.entries()) {
      let best: RunResult | null = null
      for (let r = 0; r < ROUNDS; r++) {
        const result = await post<RunResult>('/run', { isPacked: c.isPacked, messagesPerBatch: c.messagesPerBatch, events: c.events, label: `c${i}r${r}` })
        if (!result.ok) throw new Error(`${c.name}: ledger/rollup check failed ${JSON.stringify(result.check)}`)
        if (!best || result.wallMs < best.wallMs) best = result
      }
      if (!best) continue
      const perSecond = Math.round((c.events / Math.max(1, best.wallMs)) * 1000)
      console.log(
        c.name.padEnd(60) +
          String(c.events).padStart(7) +
          String(perSecond).padStart(10) +
          (best.sqlMs / best.batches).toFixed(2).padStart(14) +
          (best.rowsWritten / c.events).toFixed(2).padStart(20),
      )
    }
    await capacity(post, dir)
  } finally {
    await worker.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** On an emptied ledger: one large packed run, its bytes per table, then the prune of every event. */
async function capacity(post: <T>(route: string, body: unknown) => Promise<T>, dir: string) {
  await post<PruneResult>('/prune', {})
  const before = bytesOnDisk(dir)
  const n = Math.max(TOTAL, 50_000)
  const run = await post<RunResult>('/run', { isPacked: true, messagesPerBatch: 10, events: n, label: 'capacity' })
  if (!run.ok) throw new Error(`capacity run: ${JSON.stringify(run.check)}`)
  const after = bytesOnDisk(dir)
  const eventBytes = (sumBytes(after, isEvents) - sumBytes(before, isEvents)) / n
  const pruned = await post<PruneResult>('/prune', {})
  console.log(`\ncapacity (packed, ${n} events; 50 tenants x 150 keys x 4 models x 8 nodes within one hour):`)
  console.log(`  usage_events: ${eventBytes.toFixed(0)} bytes per event (table and key, dbstat)`)
  console.log(
    `  D1 rows written per event: ${(run.rowsWritten / n).toFixed(3)} writing (event + rollups), ${(pruned.rowsWritten / Math.max(1, pruned.events)).toFixed(3)} pruning (${pruned.events} pruned)`,
  )
  console.log(
    `  per million requests: ${((run.rowsWritten + pruned.rowsWritten) / n).toFixed(2)} M rows written, ${(eventBytes).toFixed(0)} MB of usage_events while inside the horizon`,
  )
  const rollupsBefore = sumBytes(bytesOnDisk(dir), isHourly)
  const seeded = await post<{ rows: number }>('/rollups', { combos: ROLLUP_COMBOS, hours: 24 })
  const rollupBytes = (sumBytes(bytesOnDisk(dir), isHourly) - rollupsBefore) / seeded.rows
  console.log(`  usage_hourly: ${rollupBytes.toFixed(0)} bytes per rollup row (table, key and 2 indexes; ${seeded.rows} rows written hour after hour)`)
  console.log(`  90 days at ${ROLLUP_COMBOS} active tenant/key/model combinations an hour: ${((rollupBytes * ROLLUP_COMBOS * 24 * 90) / 1e9).toFixed(2)} GB`)
}

/** Active tenant/key/model combinations per hour assumed for the 90-day rollup figure. */
const ROLLUP_COMBOS = 1000

await main()
