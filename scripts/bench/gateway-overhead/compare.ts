// `npm run bench:compare -- <checkout A> [<checkout B>]`: CPU per request of two builds of the gateway, A and B
// (default B: this checkout), under the same load, rounds taken in turn (A, B, A, B, ...), so a change is judged on
// CPU from /proc, not on a V8 profile: the inspector a profile needs inflates some native calls many times over (the
// access log's console.log showed 59-158 µs per request in `npm run bench:profile`, ~8 µs without the inspector;
// 2026-12-05). A checkout is any directory with this repository and its node_modules (a `git worktree` of a commit).
// Loads: JSON, the unpaced 20-token stream and a paced stream, each at BENCH_CONCURRENCY (16).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startGatewayInWorkerd, type BenchGateway } from './gateway-in-workerd.ts'
import { percentile, runLoad } from './load.ts'
import { treeCpuUs } from './proc-cpu.ts'
import { startStandinProcess } from './standin-process.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')
const [a, b = ROOT] = process.argv.slice(2).map((p) => path.resolve(p))
if (!a) throw new Error('usage: npm run bench:compare -- <checkout A> [<checkout B>]')
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2_000)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16)
const PORT = Number(process.env.BENCH_STANDIN_PORT ?? 18_200)
const SETTLE_MS = 250

const LOADS = [
  { name: 'JSON', model: 'cic-demo-llm', stream: false, tokens: 20 },
  { name: 'stream, 20 tokens unpaced', model: 'cic-demo-llm', stream: true, tokens: 20 },
  { name: 'stream, 100 tokens at 400/s', model: 'cic-paced-llm', stream: true, tokens: 100 },
] as const

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const fast = await startStandinProcess(PORT, ['--answer-tokens', '20'])
const paced = await startStandinProcess(PORT + 1, ['--model', 'cic-paced-llm', '--answer-tokens', '100', '--tps', '400', '--ttft-ms', '20'])
const nodes = [
  { url: fast.url, models: ['cic-demo-llm'] },
  { url: paced.url, models: ['cic-paced-llm'] },
]
const dirs: string[] = []
const gateways: Record<'A' | 'B', BenchGateway> = {} as Record<'A' | 'B', BenchGateway>
try {
  for (const [name, root] of [
    ['A', a],
    ['B', b],
  ] as const) {
    const dir = mkdtempSync(path.join(tmpdir(), `cic-compare-${name}-`))
    dirs.push(dir)
    gateways[name] = await startGatewayInWorkerd(nodes, dir, { root })
  }
  console.log(`A: ${a}\nB: ${b}\n${ROUNDS} rounds x ${ROUND_MS} ms per build and load, concurrency ${CONCURRENCY}, taken in turn\n`)
  console.log('| load | A: CPU per request | B: CPU per request | B / A | A: req/s | B: req/s | A / B p50 ms | A / B p99 ms |')
  console.log('|---|---|---|---|---|---|---|---|')
  for (const load of LOADS) {
    const total = {
      A: { cpuUs: 0, requests: 0, elapsedMs: 0, errors: 0, latencies: [] as number[] },
      B: { cpuUs: 0, requests: 0, elapsedMs: 0, errors: 0, latencies: [] as number[] },
    }
    for (const name of ['A', 'B'] as const) {
      const gw = gateways[name]
      await runLoad({ ...specOf(gw, load), concurrency: CONCURRENCY, durationMs: 500 }) // warm-up
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
        const gw = gateways[name]
        const cpu0 = treeCpuUs(gw.pid)
        const result = await runLoad({ ...specOf(gw, load), concurrency: CONCURRENCY, durationMs: ROUND_MS })
        await sleep(SETTLE_MS)
        const t = total[name]
        t.cpuUs += treeCpuUs(gw.pid) - cpu0
        t.requests += result.latenciesMs.length
        t.elapsedMs += result.elapsedMs
        t.errors += result.errors
        t.latencies.push(...result.latenciesMs)
      }
    }
    const per = (name: 'A' | 'B') => total[name].cpuUs / total[name].requests
    const rps = (name: 'A' | 'B') => (total[name].requests / total[name].elapsedMs) * 1000
    console.log(
      `| ${load.name} | ${per('A').toFixed(0)} µs | ${per('B').toFixed(0)} µs | ${(per('B') / per('A')).toFixed(2)} | ${rps('A').toFixed(0)} | ${rps('B').toFixed(0)} | ${percentile(total.A.latencies, 50).toFixed(2)} / ${percentile(total.B.latencies, 50).toFixed(2)} | ${percentile(total.A.latencies, 99).toFixed(1)} / ${percentile(total.B.latencies, 99).toFixed(1)} |`,
    )
    if (total.A.errors + total.B.errors > 0) console.log(`errors: A ${total.A.errors}, B ${total.B.errors}`)
  }
} finally {
  for (const gw of Object.values(gateways)) await gw.close()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  fast.stop()
  paced.stop()
}

function specOf(gw: BenchGateway, load: (typeof LOADS)[number]) {
  return {
    url: `${gw.url}/v1/chat/completions`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.key}` },
    body: JSON.stringify({
      model: load.model,
      messages: [{ role: 'user', content: 'compare the gateways please' }],
      max_tokens: load.tokens,
      stream: load.stream,
    }),
  }
}
