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
/** Served by a second stand-in that paces its tokens like a GPU: time to first token and inter-token gaps are real. */
const PACED_MODEL = 'cic-paced-llm'
const PACED = { ttftMs: 20, tokensPerSecond: 200 }
const STANDIN_PORT = Number(process.env.BENCH_STANDIN_PORT ?? 18_000)
const LEVELS = [
  { concurrency: 1, total: Number(process.env.BENCH_C1 ?? 400) },
  { concurrency: 16, total: Number(process.env.BENCH_C16 ?? 2_000) },
  { concurrency: 64, total: Number(process.env.BENCH_C64 ?? 4_000) },
]
const PACED_TOTALS: Record<number, number> = { 1: 100, 16: 400, 64: 1_000 }

const body = (stream: boolean, model = MODEL) =>
  JSON.stringify({ model, messages: [{ role: 'user', content: 'benchmark the gateway please' }], max_tokens: 16, stream })

async function startStandinProcess(port: number, flags: string[] = []) {
  // A separate process, so the stand-in does not share an event loop with the load generator.
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/vllm-standin/main.ts'), '--port', String(port), ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`stand-in exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') }
}

/**
 * Each measurement is split into ROUNDS rounds taken in turn (direct, pass-through, gateway, direct, ...) and
 * pooled, so a slow spell of this shared machine weighs on all three alike instead of on whichever ran then.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

async function interleaved<T extends { url: string; headers: Record<string, string> }>(
  targets: [T, T, T],
  spec: { body: string; concurrency: number; total: number },
): Promise<[LoadResult, LoadResult, LoadResult]> {
  const pooled: LoadResult[] = targets.map(() => ({ latenciesMs: [], ttfbMs: [], elapsedMs: 0, errors: 0 }))
  const perRound = Math.max(spec.concurrency, Math.ceil(spec.total / ROUNDS))
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, target] of targets.entries()) {
      const r = await runLoad({ ...target, ...spec, total: perRound })
      const into = pooled[i]!
      into.latenciesMs.push(...r.latenciesMs)
      into.ttfbMs.push(...r.ttfbMs)
      into.elapsedMs += r.elapsedMs
      into.errors += r.errors
    }
  }
  return pooled as [LoadResult, LoadResult, LoadResult]
}

const fmt = (n: number) => n.toFixed(2).padStart(8)
const rps = (r: LoadResult) => (r.latenciesMs.length / r.elapsedMs) * 1000

const standin = await startStandinProcess(STANDIN_PORT)
const paced = await startStandinProcess(STANDIN_PORT + 1, ['--model', PACED_MODEL, '--ttft-ms', String(PACED.ttftMs), '--tps', String(PACED.tokensPerSecond)])
const stopStandins = () => {
  standin.stop()
  paced.stop()
}
const outdir = mkdtempSync(path.join(tmpdir(), 'cic-bench-'))
const gateway = await startGatewayInWorkerd(
  [
    { url: standin.url, models: [MODEL] },
    { url: paced.url, models: [PACED_MODEL] },
  ],
  outdir,
).catch((error: unknown) => {
  stopStandins() // otherwise the children keep this process alive
  throw error
})
const passthrough = await startPassthroughInWorkerd(standin.url)
const pacedPassthrough = await startPassthroughInWorkerd(paced.url)
try {
  const json = { 'content-type': 'application/json' }
  const gatewayHeaders = { ...json, authorization: `Bearer ${gateway.key}` }
  const targets = {
    direct: { url: `${standin.url}/v1/chat/completions`, headers: json },
    passthrough: { url: `${passthrough.url}/v1/chat/completions`, headers: json },
    gateway: { url: `${gateway.url}/v1/chat/completions`, headers: gatewayHeaders },
  }
  const pacedTargets = {
    direct: { url: `${paced.url}/v1/chat/completions`, headers: json },
    passthrough: { url: `${pacedPassthrough.url}/v1/chat/completions`, headers: json },
    gateway: { url: `${gateway.url}/v1/chat/completions`, headers: gatewayHeaders },
  }
  for (const t of Object.values(targets)) for (const stream of [false, true]) await runLoad({ ...t, body: body(stream), concurrency: 8, total: 300 }) // warm-up
  for (const t of Object.values(pacedTargets)) await runLoad({ ...t, body: body(true, PACED_MODEL), concurrency: 8, total: 40 })

  console.log('\nCIC gateway benchmark: the same load straight to the vLLM stand-in, through a pass-through Worker, and through')
  console.log('the gateway (production bundle), all in workerd on this machine, in one run.')
  console.log('latencies in ms (stream rows: time to first byte); added = gateway - direct; cic = gateway - pass-through')
  console.log("(what CIC's own logic adds over any Worker here); ratio = gateway rps / direct rps, and / pass-through rps")
  console.log(`each row pools ${ROUNDS} rounds taken in turn (direct, pass-through, gateway, ...)\n`)
  console.log(
    'conc | mode        | direct p50 | pass p50 | gw p50  | added p50 | cic p50 | direct p99 | pass p99 | gw p99  | added p99 | cic p99 | direct rps | pass rps | gw rps   | ratio | /pass | errors d/p/g',
  )
  const row = (concurrency: number, mode: string, series: (r: LoadResult) => number[], direct: LoadResult, pass: LoadResult, gw: LoadResult) => {
    const [d50, p50, g50] = [direct, pass, gw].map((r) => percentile(series(r), 50)) as [number, number, number]
    const [d99, p99, g99] = [direct, pass, gw].map((r) => percentile(series(r), 99)) as [number, number, number]
    console.log(
      `${String(concurrency).padStart(4)} | ${mode} |${fmt(d50)}    |${fmt(p50)}  |${fmt(g50)} |${fmt(g50 - d50)}   |${fmt(g50 - p50)} |${fmt(d99)}    |${fmt(p99)}  |${fmt(g99)} |${fmt(g99 - d99)}   |${fmt(g99 - p99)} |${fmt(rps(direct))}    |${fmt(rps(pass))}  |${fmt(rps(gw))} | ${(rps(gw) / rps(direct)).toFixed(2)}  | ${(rps(gw) / rps(pass)).toFixed(2)}  | ${direct.errors}/${pass.errors}/${gw.errors}`,
    )
  }
  for (const { concurrency, total } of LEVELS) {
    for (const stream of [false, true]) {
      const spec = { body: body(stream), concurrency, total }
      const [direct, pass, gw] = await interleaved([targets.direct, targets.passthrough, targets.gateway], spec)
      row(concurrency, stream ? 'stream TTFB ' : 'json total  ', (r) => (stream ? r.ttfbMs : r.latenciesMs), direct, pass, gw)
    }
  }
  console.log(`\npaced node (time to first token ${PACED.ttftMs} ms, ${PACED.tokensPerSecond} tokens/s, 16 tokens): first token and whole stream`)
  for (const { concurrency } of LEVELS) {
    const spec = { body: body(true, PACED_MODEL), concurrency, total: PACED_TOTALS[concurrency] ?? 100 }
    const [direct, pass, gw] = await interleaved([pacedTargets.direct, pacedTargets.passthrough, pacedTargets.gateway], spec)
    row(concurrency, 'paced TTFT  ', (r) => r.ttfbMs, direct, pass, gw)
    row(concurrency, 'paced total ', (r) => r.latenciesMs, direct, pass, gw)
  }
} finally {
  await Promise.all([gateway.close(), passthrough.close(), pacedPassthrough.close()])
  stopStandins()
  rmSync(outdir, { recursive: true, force: true })
}
