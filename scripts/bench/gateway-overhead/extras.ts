// The bench's second part (issue 18's "report too"): a 4,000-token stream through each server, the resident memory
// one open stream costs (streams per 128 MB isolate), and slow readers (a client that stops reading: backpressure
// must hold, so the server's memory stays bounded instead of buffering the node's whole stream).
import http from 'node:http'
import { connectInspector, liveHeapBytes } from './inspector.ts'
import { runLoad } from './load.ts'
import { rssBytes, treeCpuUs } from './proc-cpu.ts'

type Target = { url: string; headers: Record<string, string>; pid: number }
type Targets = Record<'direct' | 'pass' | 'portkey' | 'cic', Target>
type ExtrasInput = {
  long: Targets
  longTokens: number
  longModel: string
  paced: Targets
  pacedModel: string
  body: (stream: boolean, model?: string, maxTokens?: number) => string
  /** CIC's workerd inspector: its isolate's live JS heap is what the 128 MB isolate limit is about. */
  cicInspectorPort: number
}

const MB = 1024 * 1024
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const gateways = ['pass', 'portkey', 'cic'] as const

/** Opens `n` streams and holds them open; with `pauseAfterFirstChunk` each stops reading after its first chunk. */
function openStreams(t: Target, body: string, n: number, pauseAfterFirstChunk: boolean) {
  const agent = new http.Agent({ keepAlive: false, maxSockets: n })
  const requests: http.ClientRequest[] = []
  const responses: http.IncomingMessage[] = []
  const firstBytes = Array.from({ length: n }, (_, i) => {
    return new Promise<void>((resolve, reject) => {
      const req = http.request(t.url, { method: 'POST', agent, headers: { ...t.headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        responses[i] = res
        res.once('data', () => {
          if (pauseAfterFirstChunk) res.pause()
          resolve()
        })
        res.on('data', () => {})
        res.on('error', () => {})
      })
      req.on('error', reject)
      requests.push(req)
      req.end(body)
    })
  })
  return {
    opened: Promise.all(firstBytes),
    /** Resumes every reader and resolves with how many streams ended with [DONE]. */
    drain: () =>
      Promise.all(
        responses.map(
          (res) =>
            new Promise<boolean>((resolve) => {
              let tail = ''
              res.removeAllListeners('data')
              res.on('data', (c: Buffer) => {
                tail = (tail + c.toString('latin1')).slice(-64)
              })
              res.on('end', () => resolve(tail.trimEnd().endsWith('data: [DONE]')))
              res.on('error', () => resolve(false))
              res.on('close', () => resolve(tail.trimEnd().endsWith('data: [DONE]')))
              res.resume()
            }),
        ),
      ).then((done) => done.filter(Boolean).length),
    close: () => {
      for (const req of requests) req.destroy()
      agent.destroy()
    },
  }
}

export async function runExtras(x: ExtrasInput): Promise<void> {
  // 1. A 4,000-token unpaced stream: whole-stream time, CPU per stream and per event, and that it arrives whole.
  console.log(`\n${x.longTokens}-token stream (unpaced), c=4, 8 streams per server, 2 rounds taken in turn:`)
  console.log('| | direct | pass-through Worker | Portkey | CIC |\n|---|---|---|---|---|')
  const long = {
    direct: { ms: [] as number[], cpu: 0, n: 0, errors: 0 },
    pass: { ms: [] as number[], cpu: 0, n: 0, errors: 0 },
    portkey: { ms: [] as number[], cpu: 0, n: 0, errors: 0 },
    cic: { ms: [] as number[], cpu: 0, n: 0, errors: 0 },
  }
  for (let round = 0; round < 2; round++) {
    for (const s of ['direct', ...gateways] as const) {
      const t = x.long[s]
      const cpu0 = treeCpuUs(t.pid)
      const r = await runLoad({ ...t, body: x.body(true, x.longModel, x.longTokens), concurrency: 4, total: 8 })
      await sleep(250)
      long[s].cpu += treeCpuUs(t.pid) - cpu0
      long[s].ms.push(...r.latenciesMs)
      long[s].n += r.latenciesMs.length
      long[s].errors += r.errors
    }
  }
  const all = ['direct', ...gateways] as const
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN
  console.log(`| whole stream p50 | ${all.map((s) => `${median(long[s].ms).toFixed(0)} ms`).join(' | ')} |`)
  console.log(
    `| CPU per stream / per event | ${all.map((s) => `${Math.round(long[s].cpu / long[s].n).toLocaleString('en-US')} / ${(long[s].cpu / long[s].n / (x.longTokens + 3)).toFixed(1)} µs`).join(' | ')} |`,
  )
  console.log(`| streams cut short (no [DONE]) | ${all.map((s) => `${long[s].errors} of ${long[s].n}`).join(' | ')} |`)

  // 2. Memory per open stream: N paced streams held open mid-generation, resident memory before and after.
  const OPEN = Number(process.env.BENCH_OPEN_STREAMS ?? 200)
  console.log(`\nmemory per open stream: ${OPEN} paced streams (500 tokens at 200/s) open at once, resident memory of each server's process`)
  console.log('| | pass-through Worker | Portkey | CIC |\n|---|---|---|---|')
  // One reading of RSS moves with the garbage collector (a single before/after pair came out negative in earlier
  // runs): each side is the median of 5 readings 100 ms apart, in 3 rounds taken in turn; the median round is kept.
  const medianRss = async (pid: number) => {
    const readings: number[] = []
    for (let i = 0; i < 5; i++) {
      readings.push(rssBytes(pid))
      await sleep(100)
    }
    return median(readings)
  }
  const perStreamRounds: Record<string, number[]> = Object.fromEntries(gateways.map((s) => [s, []]))
  for (let round = 0; round < 3; round++) {
    for (const s of gateways) {
      const t = x.paced[s]
      await sleep(500)
      const before = await medianRss(t.pid)
      const held = openStreams(t, x.body(true, x.pacedModel, 500), OPEN, false)
      await held.opened
      const during = await medianRss(t.pid)
      held.close()
      perStreamRounds[s]?.push((during - before) / OPEN)
      await sleep(1_500)
    }
  }
  // RSS cannot resolve CIC's share (workerd's heap has room to spare: the rounds above come out near zero or
  // negative); the isolate's live JS heap after a full collection can, and the 128 MB limit is the isolate's.
  const inspector = await connectInspector(x.cicInspectorPort)
  const heapRounds: number[] = []
  for (let round = 0; round < 3; round++) {
    await sleep(500)
    const before = await liveHeapBytes(inspector)
    const held = openStreams(x.paced.cic, x.body(true, x.pacedModel, 500), OPEN, false)
    await held.opened
    const during = await liveHeapBytes(inspector)
    held.close()
    heapRounds.push((during - before) / OPEN)
    await sleep(1_500)
  }
  const heapPerStream = median(heapRounds)
  const perStream = Object.fromEntries(gateways.map((s) => [s, median(perStreamRounds[s] ?? [])]))
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`
  console.log(`| resident memory per open stream (median round) | ${gateways.map((s) => kib(perStream[s] ?? 0)).join(' | ')} |`)
  console.log(`| the 3 rounds | ${gateways.map((s) => (perStreamRounds[s] ?? []).map(kib).join(', ')).join(' | ')} |`)
  console.log(
    `| open streams per 128 MB | ${gateways.map((s) => ((perStream[s] ?? 0) > 0 ? ((128 * MB) / (perStream[s] ?? 1)).toFixed(0) : 'n/a')).join(' | ')} |`,
  )
  console.log(
    `\nCIC's isolate, live JS heap after a full collection (3 rounds: ${heapRounds.map(kib).join(', ')}): ${kib(heapPerStream)} per open stream, ` +
      `${heapPerStream > 0 ? ((128 * MB) / heapPerStream).toFixed(0) : 'n/a'} open streams per 128 MB isolate (the heap alone; the runtime's own buffers are outside it)`,
  )

  // 3. Slow readers: N clients take one chunk of the 4,000-token stream and stop reading for 3 s.
  const SLOW = 20
  const streamBytes = (x.longTokens + 3) * 330 // about 330 bytes per event with continuous usage
  console.log(
    `\nslow readers: ${SLOW} clients read the first chunk of a ${x.longTokens}-token stream (~${(streamBytes / MB).toFixed(1)} MB each) and stop for 3 s`,
  )
  console.log('| | pass-through Worker | Portkey | CIC |\n|---|---|---|---|')
  const growth: Record<string, number> = {}
  const completed: Record<string, number> = {}
  let heapGrowth = 0
  for (const s of gateways) {
    const t = x.long[s]
    await sleep(500)
    const before = rssBytes(t.pid)
    const heapBefore = s === 'cic' ? await liveHeapBytes(inspector) : 0
    const held = openStreams(t, x.body(true, x.longModel, x.longTokens), SLOW, true)
    await held.opened
    await sleep(3_000)
    growth[s] = rssBytes(t.pid) - before
    if (s === 'cic') heapGrowth = (await liveHeapBytes(inspector)) - heapBefore
    completed[s] = await held.drain()
    held.close()
  }
  console.log(`| resident memory growth while ${SLOW} readers are stalled | ${gateways.map((s) => `${((growth[s] ?? 0) / MB).toFixed(1)} MB`).join(' | ')} |`)
  console.log(
    `| growth per stalled stream (whole stream ~${(streamBytes / MB).toFixed(1)} MB) | ${gateways.map((s) => `${((growth[s] ?? 0) / SLOW / 1024).toFixed(0)} KiB`).join(' | ')} |`,
  )
  console.log(`| streams complete after resuming | ${gateways.map((s) => `${completed[s]} of ${SLOW}`).join(' | ')} |`)
  console.log(`\nCIC's isolate, live JS heap growth while the ${SLOW} readers were stalled: ${kib(heapGrowth)} (${kib(heapGrowth / SLOW)} per stalled stream)`)
  inspector.close()
}
