// A closed-loop load generator over keep-alive HTTP/1.1: `concurrency` workers each send requests back to
// back until `total` are done (or until `durationMs` has passed). Records per-request latency (full response),
// time to first body byte, and whether a stream ended with its `data: [DONE]` (a stream cut short is an error).
import http from 'node:http'

/** startedAtMs: each request's start, wall clock (ms since the epoch), in the order of latenciesMs. */
export type LoadResult = { latenciesMs: number[]; ttfbMs: number[]; startedAtMs: number[]; elapsedMs: number; errors: number }
export type LoadSpec = {
  url: string
  headers: Record<string, string>
  body: string
  concurrency: number
  total?: number
  durationMs?: number
}

const DONE_TAIL = 'data: [DONE]'

function once(agent: http.Agent, target: URL, spec: LoadSpec, isStream: boolean): Promise<{ latency: number; ttfb: number; startedAt: number; ok: boolean }> {
  return new Promise((resolve) => {
    const start = performance.now()
    const startedAt = performance.timeOrigin + start
    let ttfb = 0
    let tail = ''
    const req = http.request(target, { method: 'POST', agent, headers: { ...spec.headers, 'content-length': Buffer.byteLength(spec.body) } }, (res) => {
      res.once('data', () => {
        ttfb = performance.now() - start
      })
      res.on('data', (chunk: Buffer) => {
        if (isStream) tail = (tail + chunk.toString('latin1')).slice(-64)
      })
      res.on('end', () =>
        resolve({ latency: performance.now() - start, ttfb, startedAt, ok: res.statusCode === 200 && (!isStream || tail.trimEnd().endsWith(DONE_TAIL)) }),
      )
      res.on('error', () => resolve({ latency: performance.now() - start, ttfb, startedAt, ok: false }))
    })
    req.on('error', () => resolve({ latency: performance.now() - start, ttfb, startedAt, ok: false }))
    req.end(spec.body)
  })
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency })
  const target = new URL(spec.url)
  const isStream = spec.body.includes('"stream":true')
  const result: LoadResult = { latenciesMs: [], ttfbMs: [], startedAtMs: [], elapsedMs: 0, errors: 0 }
  let started = 0
  const t0 = performance.now()
  const isMore = () => (spec.durationMs === undefined ? started < (spec.total ?? 0) : performance.now() - t0 < spec.durationMs)
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (isMore()) {
        started++
        const r = await once(agent, target, spec, isStream)
        if (!r.ok) result.errors++
        result.latenciesMs.push(r.latency)
        result.ttfbMs.push(r.ttfb)
        result.startedAtMs.push(r.startedAt)
      }
    }),
  )
  result.elapsedMs = performance.now() - t0
  agent.destroy()
  return result
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}
