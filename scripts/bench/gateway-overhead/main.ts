// `npm run bench`: the same load sent straight to a vLLM stand-in and through the gateway (the production
// bundle in workerd), in one run on this machine; prints the gateway's added latency and the throughput ratio.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startGatewayInWorkerd, startPassthroughInWorkerd } from './gateway-in-workerd.ts'
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
const passthrough = await startPassthroughInWorkerd(standin.url)
try {
  const targets = {
    direct: { url: `${standin.url}/v1/chat/completions`, headers: { 'content-type': 'application/json' } },
    passthrough: { url: `${passthrough.url}/v1/chat/completions`, headers: { 'content-type': 'application/json' } },
    gateway: { url: `${gateway.url}/v1/chat/completions`, headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.key}` } },
  }
  for (const t of Object.values(targets)) for (const stream of [false, true]) await runLoad({ ...t, body: body(stream), concurrency: 8, total: 300 }) // warm-up

  console.log('\nCIC gateway benchmark: the same load straight to the vLLM stand-in, through a pass-through Worker, and through')
  console.log('the gateway (production bundle), all in workerd on this machine, in one run.')
  console.log('latencies in ms (stream rows: time to first byte); added = gateway - direct; cic = gateway - pass-through')
  console.log('(what CIC\'s own logic adds over any Worker here); ratio = gateway rps / direct rps\n')
  console.log('conc | mode        | direct p50 | pass p50 | gw p50  | added p50 | cic p50 | direct p99 | pass p99 | gw p99  | added p99 | cic p99 | direct rps | pass rps | gw rps   | ratio | errors d/p/g')
  for (const { concurrency, total } of LEVELS) {
    for (const stream of [false, true]) {
      const spec = { body: body(stream), concurrency, total }
      const direct = await runLoad({ ...targets.direct, ...spec })
      const pass = await runLoad({ ...targets.passthrough, ...spec })
      const gw = await runLoad({ ...targets.gateway, ...spec })
      const series = (r: LoadResult) => (stream ? r.ttfbMs : r.latenciesMs)
      const [d50, p50, g50] = [direct, pass, gw].map((r) => percentile(series(r), 50)) as [number, number, number]
      const [d99, p99, g99] = [direct, pass, gw].map((r) => percentile(series(r), 99)) as [number, number, number]
      console.log(`${String(concurrency).padStart(4)} | ${stream ? 'stream TTFB ' : 'json total  '} |${fmt(d50)}    |${fmt(p50)}  |${fmt(g50)} |${fmt(g50 - d50)}   |${fmt(g50 - p50)} |${fmt(d99)}    |${fmt(p99)}  |${fmt(g99)} |${fmt(g99 - d99)}   |${fmt(g99 - p99)} |${fmt(rps(direct))}    |${fmt(rps(pass))}  |${fmt(rps(gw))} | ${(rps(gw) / rps(direct)).toFixed(2)}  | ${direct.errors}/${pass.errors}/${gw.errors}`)
    }
  }
} finally {
  await Promise.all([gateway.close(), passthrough.close()])
  standin.stop()
  rmSync(outdir, { recursive: true, force: true })
}
