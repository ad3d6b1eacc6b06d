// `npm run bench`: the same load sent straight to a vLLM stand-in and through the gateway (the production
// bundle in workerd), in one run on this machine; prints the gateway's added latency and the throughput ratio.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startGatewayInWorkerd } from './gateway-in-workerd.ts'
import { percentile, runLoad, type LoadResult } from './load.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')
const MODEL = 'cic-demo-llm'
const STANDIN_PORT = Number(process.env.BENCH_STANDIN_PORT ?? 18_000)
const LEVELS = [
  { concurrency: 1, total: Number(process.env.BENCH_C1 ?? 400) },
  { concurrency: 16, total: Number(process.env.BENCH_C16 ?? 2_000) },
  { concurrency: 64, total: Number(process.env.BENCH_C64 ?? 4_000) },
]

const body = (stream: boolean) => JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'benchmark the gateway please' }], max_tokens: 16, stream })

async function startStandinProcess() {
  // A separate process, so the stand-in does not share an event loop with the load generator.
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/vllm-standin/main.ts'), '--port', String(STANDIN_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`stand-in exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${STANDIN_PORT}`, stop: () => child.kill('SIGTERM') }
}

const fmt = (n: number) => n.toFixed(2).padStart(8)
const rps = (r: LoadResult) => (r.latenciesMs.length / r.elapsedMs) * 1000

const standin = await startStandinProcess()
const outdir = mkdtempSync(path.join(tmpdir(), 'cic-bench-'))
const gateway = await startGatewayInWorkerd(standin.url, MODEL, outdir).catch((error: unknown) => {
  standin.stop() // otherwise the child keeps this process alive
  throw error
})
try {
  const targets = {
    direct: { url: `${standin.url}/v1/chat/completions`, headers: { 'content-type': 'application/json' } },
    gateway: { url: `${gateway.url}/v1/chat/completions`, headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.key}` } },
  }
  for (const t of Object.values(targets)) for (const stream of [false, true]) await runLoad({ ...t, body: body(stream), concurrency: 8, total: 300 }) // warm-up

  console.log('\nCIC gateway benchmark: same load direct to the vLLM stand-in vs through the gateway (workerd, no dev proxy)')
  console.log('latencies in ms; added = gateway - direct; ratio = gateway rps / direct rps\n')
  console.log('conc | mode       | direct p50 | gw p50  | added p50 | direct p99 | gw p99  | added p99 | direct rps | gw rps   | ratio | errors')
  for (const { concurrency, total } of LEVELS) {
    for (const stream of [false, true]) {
      const spec = { body: body(stream), concurrency, total }
      const direct = await runLoad({ ...targets.direct, ...spec })
      const gw = await runLoad({ ...targets.gateway, ...spec })
      const series = (r: LoadResult) => (stream ? r.ttfbMs : r.latenciesMs)
      const [d50, g50, d99, g99] = [percentile(series(direct), 50), percentile(series(gw), 50), percentile(series(direct), 99), percentile(series(gw), 99)]
      console.log(`${String(concurrency).padStart(4)} | ${stream ? 'stream TTFT' : 'json total '} |${fmt(d50)}    |${fmt(g50)} |${fmt(g50 - d50)}   |${fmt(d99)}    |${fmt(g99)} |${fmt(g99 - d99)}   |${fmt(rps(direct))}    |${fmt(rps(gw))} | ${(rps(gw) / rps(direct)).toFixed(2)}  | ${direct.errors}/${gw.errors}`)
    }
  }
} finally {
  await gateway.close()
  standin.stop()
  rmSync(outdir, { recursive: true, force: true })
}
