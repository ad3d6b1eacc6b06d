// `npm run bench:tail`: what makes CIC's slow requests at c=1 slow. Sequential JSON requests through the pass-through
// Worker and through CIC's production bundle, rounds taken in turn, with V8's GC trace of workerd on
// (MINIFLARE_WORKERD_V8_FLAGS=--trace-gc) and CIC's own log lines: each slow request is matched with what ran while it
// waited (a mark-compact of CIC's isolate, a usage-events consumer batch with its D1 write, or neither).
// Everything here runs in one workerd process, on one thread: a local D1 executes its SQL on the thread that runs the
// gateway, which production's D1 (a database elsewhere) never does.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startGatewayInWorkerd, startPassthroughInWorkerd } from './gateway-in-workerd.ts'
import { percentile, runLoad, type LoadResult } from './load.ts'
import { startStandinProcess } from './standin-process.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 8_000)
const SLOW_MS = Number(process.env.BENCH_SLOW_MS ?? 10)
const MODEL = 'cic-demo-llm'
/** workerd prints an event when it ends; its line reaches this process a little after the response it held up. */
const LOG_DELAY_MS = 5
process.env.MINIFLARE_WORKERD_V8_FLAGS = `${process.env.MINIFLARE_WORKERD_V8_FLAGS ?? ''} --trace-gc`.trim()

/**
 * What workerd printed, stamped when its line reached this process (`at`, wall ms): a GC event with its pause and the
 * heap before and after (MB), or a usage consumer batch with its D1 write time and its event count.
 */
type Event = {
  at: number
  kind: 'mark-compact' | 'scavenge' | 'usage-write'
  isolate: string
  pauseMs: number
  beforeMb: number
  afterMb: number
  events: number
}
const events: Event[] = []
// `[pid:0xisolate]  1234 ms: Mark-Compact 32.9 (59.6) -> 11.2 (58.4) MB, pooled: 0.0 MB, 97.53 / 0.00 ms ...`
const GC_LINE = /\[\d+:(0x[0-9a-f]+)[^\]]*\]\s+\d+ ms: (Scavenge|Mark-Compact)[^,]*?([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB.*?([\d.]+) \/ [\d.]+ ms/

function onLog(message: string): void {
  const at = performance.timeOrigin + performance.now()
  const gc = GC_LINE.exec(message)
  if (gc) {
    const [, isolate = '', kind, before, , after] = gc
    events.push({
      at,
      kind: kind === 'Scavenge' ? 'scavenge' : 'mark-compact',
      isolate,
      pauseMs: Number(gc[7]),
      beforeMb: Number(before),
      afterMb: Number(after),
      events: 0,
    })
    return
  }
  if (message.includes('"usage_written"')) {
    const line = JSON.parse(message) as { events: number; writeMs: number }
    events.push({ at, kind: 'usage-write', isolate: '', pauseMs: line.writeMs, beforeMb: 0, afterMb: 0, events: line.events })
  }
}

const standin = await startStandinProcess(Number(process.env.BENCH_STANDIN_PORT ?? 18_150), ['--answer-tokens', '20'])
const passthrough = await startPassthroughInWorkerd(standin.url)
const cic = await startGatewayInWorkerd([{ url: standin.url, models: [MODEL] }], mkdtempSync(path.join(tmpdir(), 'cic-tail-')), {
  onLog,
  ...(process.env.BENCH_ROOT ? { root: process.env.BENCH_ROOT } : {}),
})
const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'where does the tail come from?' }], max_tokens: 20 })
const targets = {
  'pass-through': { url: `${passthrough.url}/v1/chat/completions`, headers: { 'content-type': 'application/json' } },
  CIC: { url: `${cic.url}/v1/chat/completions`, headers: { 'content-type': 'application/json', authorization: `Bearer ${cic.key}` } },
}
const runs: Record<keyof typeof targets, LoadResult[]> = { 'pass-through': [], CIC: [] }
try {
  for (const t of Object.values(targets)) await runLoad({ ...t, body, concurrency: 4, total: 500 }) // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, t] of Object.entries(targets) as [keyof typeof targets, (typeof targets)[keyof typeof targets]][]) {
      runs[name].push(await runLoad({ ...t, body, concurrency: 1, durationMs: ROUND_MS }))
      await new Promise((r) => setTimeout(r, 1_500)) // the last consumer batch lands before the next round
    }
  }
} finally {
  await cic.close()
  await passthrough.close()
  standin.stop()
}

// CIC's isolate: the one that collects most often (the gateway allocates far more than Miniflare's own workers).
const scavengesBy = new Map<string, number>()
for (const e of events) if (e.kind === 'scavenge') scavengesBy.set(e.isolate, (scavengesBy.get(e.isolate) ?? 0) + 1)
const gateway = [...scavengesBy].sort((a, b) => b[1] - a[1])[0]?.[0]

console.log(`c=1 JSON, ${ROUNDS} rounds x ${ROUND_MS} ms per server, taken in turn; slow = over ${SLOW_MS} ms\n`)
console.log('| | requests | p50 | p99 | p99.9 | max | slow |')
console.log('|---|---|---|---|---|---|---|')
for (const [name, list] of Object.entries(runs)) {
  const all = list.flatMap((r) => r.latenciesMs)
  const f = (p: number) => `${percentile(all, p).toFixed(2)} ms`
  console.log(`| ${name} | ${all.length} | ${f(50)} | ${f(99)} | ${f(99.9)} | ${Math.max(...all).toFixed(1)} ms | ${all.filter((l) => l > SLOW_MS).length} |`)
}

// A slow request is put down to the longest event that ended while it waited (events are printed when they end).
const causes = new Map<string, { count: number; worstMs: number }>()
for (const result of runs.CIC) {
  for (const [i, latency] of result.latenciesMs.entries()) {
    const at = result.startedAtMs[i] ?? 0
    const end = at + latency
    if (latency > SLOW_MS) {
      const during = events.filter((e) => e.at >= at && e.at <= end + LOG_DELAY_MS && (e.kind === 'usage-write' || e.isolate === gateway))
      const worst = during.sort((a, b) => b.pauseMs - a.pauseMs)[0]
      const cause = worst && worst.pauseMs >= SLOW_MS / 2 ? worst.kind : 'neither'
      const c = causes.get(cause) ?? { count: 0, worstMs: 0 }
      causes.set(cause, { count: c.count + 1, worstMs: Math.max(c.worstMs, latency) })
    }
  }
}
console.log("\nCIC's slow requests, by what ended while they waited:")
for (const [cause, c] of causes) console.log(`- ${cause}: ${c.count} (slowest ${c.worstMs.toFixed(1)} ms)`)

const cicStart = Math.min(...runs.CIC.map((r) => r.startedAtMs[0] ?? Number.POSITIVE_INFINITY))
const mine = events.filter((e) => e.isolate === gateway && e.at >= cicStart)
const scavenges = mine.filter((e) => e.kind === 'scavenge')
const compactions = mine.filter((e) => e.kind === 'mark-compact')
// What scavenges leave behind grows until a mark-compact: the old generation's growth (promotion and old-space allocation).
let grownMb = 0
for (const [i, e] of mine.entries()) {
  const previous = mine[i - 1]
  if (e.kind === 'scavenge' && previous) grownMb += Math.max(0, e.afterMb - previous.afterMb)
}
const cicRequests = runs.CIC.reduce((n, r) => n + r.latenciesMs.length, 0)
const writes = events.filter((e) => e.kind === 'usage-write' && e.at >= cicStart)
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
console.log(
  `\nCIC's isolate during its rounds: ${scavenges.length} scavenges (mean pause ${mean(scavenges.map((e) => e.pauseMs)).toFixed(2)} ms), ` +
    `${compactions.length} mark-compacts (pauses ${compactions.map((e) => `${e.pauseMs.toFixed(0)} ms [${e.beforeMb} -> ${e.afterMb} MB]`).join(', ') || 'none'})`,
)
console.log(`old generation: +${((grownMb * 1024 * 1024) / cicRequests / 1024).toFixed(1)} KiB per request between mark-compacts`)
console.log(
  `usage-events consumer batches: ${writes.length}, D1 write ${mean(writes.map((e) => e.pauseMs)).toFixed(1)} ms mean for ${mean(writes.map((e) => e.events)).toFixed(0)} events (local D1 runs on workerd's one thread)`,
)
