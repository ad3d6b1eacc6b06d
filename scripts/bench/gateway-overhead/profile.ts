// `npm run bench:profile`: where the gateway's CPU goes. Runs the production bundle in workerd with the V8
// inspector open, drives chat completions (JSON and streamed) through it, records a CPU profile over the
// Chrome DevTools Protocol and prints the functions with the most self time, and the time per source module.
// Writes the full profile to $TMPDIR for Chrome DevTools (Performance tab > Load profile). Only CIC's isolate is
// sampled: Workers in front of it in the same process (Miniflare's assets router, ~220 µs per request, stayed unseen
// here for that reason) never show; `npm run bench:compare` reads the whole process's CPU.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startGatewayInWorkerd } from './gateway-in-workerd.ts'
import { startStandinProcess } from './standin-process.ts'
import { connectInspector } from './inspector.ts'
import { runLoad } from './load.ts'

const MODEL = 'cic-demo-llm'
const STANDIN_PORT = Number(process.env.BENCH_STANDIN_PORT ?? 18_100)
const INSPECTOR_PORT = Number(process.env.BENCH_INSPECTOR_PORT ?? 9_329)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16)
const TOTAL = Number(process.env.BENCH_TOTAL ?? 3_000)
const STREAM = process.env.BENCH_STREAM === '1'
/** BENCH_TOKENS tokens per answer (default 16); BENCH_TPS paces them like a GPU (0 = unpaced: one chunk per stream). */
const TOKENS = Number(process.env.BENCH_TOKENS ?? 16)
const TPS = Number(process.env.BENCH_TPS ?? 0)
const TOP = 40

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const standin = await startStandinProcess(STANDIN_PORT, ['--answer-tokens', String(TOKENS), '--tps', String(TPS)])
const outdir = mkdtempSync(path.join(tmpdir(), 'cic-profile-'))
const gateway = await startGatewayInWorkerd([{ url: standin.url, models: [MODEL] }], outdir, { inspectorPort: INSPECTOR_PORT })
try {
  const spec = {
    url: `${gateway.url}/v1/chat/completions`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.key}` },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'profile the gateway please' }], max_tokens: TOKENS, stream: STREAM }),
  }
  await runLoad({ ...spec, concurrency: 8, total: 500 }) // warm-up: JIT, caches, node directory

  const inspector = await connectInspector(INSPECTOR_PORT)
  const send = inspector.send
  await send('Profiler.enable')
  await send('Profiler.setSamplingInterval', { interval: 100 })
  await send('Profiler.start')
  const load = await runLoad({ ...spec, concurrency: CONCURRENCY, total: TOTAL })
  const { profile } = (await send('Profiler.stop')) as { profile: Profile }
  inspector.close()

  const file = path.join(outdir, 'gateway.cpuprofile')
  writeFileSync(file, JSON.stringify(profile))
  const selfUs = new Map<number, number>()
  profile.samples.forEach((nodeId, i) => {
    selfUs.set(nodeId, (selfUs.get(nodeId) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const byFunction = new Map<string, number>()
  const byModule = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0
    total += us
    const { functionName, url, lineNumber } = node.callFrame
    const fn = `${functionName || '(anonymous)'} ${url ? `${path.basename(url)}:${lineNumber + 1}` : ''}`
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us)
    const module = url ? path.basename(url) : functionName
    byModule.set(module, (byModule.get(module) ?? 0) + us)
  }
  const rps = (load.latenciesMs.length / load.elapsedMs) * 1000
  const idle = byFunction.get('(idle) ') ?? 0
  console.log(`\n${TOTAL} ${STREAM ? 'streamed' : 'JSON'} chat completions at concurrency ${CONCURRENCY}: ${rps.toFixed(0)} req/s, ${load.errors} errors`)
  console.log(`gateway isolate CPU (excluding idle): ${((total - idle) / 1000).toFixed(0)} ms, ${((total - idle) / TOTAL).toFixed(0)} µs per request\n`)
  const print = (title: string, rows: Map<string, number>) => {
    console.log(title)
    for (const [name, us] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
      console.log(`${((100 * us) / (total - idle)).toFixed(1).padStart(5)}%  ${(us / TOTAL).toFixed(1).padStart(6)} µs/req  ${name}`)
    }
    console.log()
  }
  rowsWithoutIdle(byFunction)
  rowsWithoutIdle(byModule)
  print('self time by function', byFunction)
  print('self time by module', byModule)
  console.log(`full profile: ${file}`)
} finally {
  await gateway.close()
  standin.stop()
}

function rowsWithoutIdle(rows: Map<string, number>) {
  for (const key of [...rows.keys()]) if (key.startsWith('(idle)')) rows.delete(key)
}
