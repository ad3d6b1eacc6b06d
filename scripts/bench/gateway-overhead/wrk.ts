// JSON load with wrk (Debian package `wrk`): a fixed duration at a fixed connection count, POSTing one body.
// A Lua `done` hook prints the latency distribution as 1,000 quantiles, so rounds can be pooled into one
// distribution (each quantile stands for a thousandth of its round's requests).
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export type WrkResult = { requests: number; elapsedMs: number; errors: number; quantilesMs: number[] }

/** Throws, naming the package, when wrk is missing. */
export function assertWrk(): void {
  const probe = spawnSync('wrk', ['--version'], { stdio: 'pipe' })
  if (probe.error) throw new Error('wrk is not installed: `apt-get install -y wrk` (Debian package "wrk") and run the bench again')
}

const scriptDir = mkdtempSync(path.join(tmpdir(), 'cic-wrk-'))

function luaScript(headers: Record<string, string>, body: string): string {
  const file = path.join(scriptDir, `post-${Math.random().toString(36).slice(2)}.lua`)
  const lines = [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(body)}`,
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
    'function done(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format("RESULT %d %d %d\\n", summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout))',
    '  local q = {}',
    '  for i = 1, 1000 do q[i] = string.format("%d", latency:percentile(i / 10)) end',
    '  io.write("QUANTILES " .. table.concat(q, " ") .. "\\n")',
    'end',
  ]
  writeFileSync(file, lines.join('\n'))
  return file
}

/**
 * Asynchronous on purpose: this process hosts the Miniflare instances, which read workerd's stdout (the Worker's
 * structured logs). A spawnSync here blocked that reading for the whole run: once the pipe's 64 KiB filled,
 * workerd blocked on its next log line, and CIC (which logs every request) showed 49 JSON req/s instead of ~600.
 */
export async function runWrk(spec: {
  url: string
  headers: Record<string, string>
  body: string
  connections: number
  durationMs: number
}): Promise<WrkResult> {
  const script = luaScript(spec.headers, spec.body)
  const seconds = Math.max(1, Math.round(spec.durationMs / 1000))
  const child = spawn('wrk', ['-t1', `-c${spec.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, spec.url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString()
  })
  await new Promise((resolve) => child.once('close', resolve))
  const result = /RESULT (\d+) (\d+) (\d+)/.exec(out)
  const quantiles = /QUANTILES ([\d ]+)/.exec(out)
  if (!result || !quantiles) throw new Error(`wrk gave no result: ${out}\n${err}`)
  return {
    requests: Number(result[1]),
    elapsedMs: Number(result[2]) / 1000,
    errors: Number(result[3]),
    quantilesMs: quantiles[1]!
      .trim()
      .split(' ')
      .map((us) => Number(us) / 1000),
  }
}

/** Percentile of rounds pooled by their quantiles, each round weighted by its request count. */
export function pooledPercentile(rounds: WrkResult[], p: number): number {
  const weighted: [number, number][] = []
  for (const r of rounds) for (const q of r.quantilesMs) weighted.push([q, r.requests / r.quantilesMs.length])
  weighted.sort((a, b) => a[0] - b[0])
  const total = weighted.reduce((sum, [, w]) => sum + w, 0)
  let seen = 0
  for (const [value, w] of weighted) {
    seen += w
    if (seen >= (p / 100) * total) return value
  }
  return weighted.at(-1)?.[0] ?? Number.NaN
}
