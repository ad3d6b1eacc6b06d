// `npm run load` flags: parsed and checked once, with the usage text.
import { parseArgs } from 'node:util'
import type { ArrivalMode } from './schedule.ts'

export const USAGE = `Usage: npm run load -- [options]
An open-loop load test: requests leave at fixed (or Poisson) times whatever the answers do, latency is timed
from each request's due time. Then checks that the usage ledger counted every admitted request exactly once
and that no tenant's rpm, key rpm or concurrency limit was exceeded. Exits 1 when a check fails.

Target (default: starts the local dev stack on free ports, with stand-in nodes, and stops it at the end)
  --url <url>              a running gateway (local \`npm run dev\` or a deployed environment)
  --admin-token <token>    its admin token (default: $ADMIN_TOKEN)
  --node <url>             with --url: register this stand-in node (reachable from the Worker) for the models
  --model <name>           generation model, repeatable (with --url; default cic-demo-llm)
  --embedding-model <name> embedding model, repeatable (with --url; default cic-demo-embed)
  --keys-out <file>        write the tenants, keys and models set up (for a later --skip-setup run)
  --skip-setup             create nothing: use the tenants, keys and models of --keys-file
  --keys-file <file>       with --skip-setup: a file written by --keys-out

Load
  --rate <n>               requests per second (default 20)
  --duration <d>           e.g. 30s, 10m (default 15s)
  --arrivals <mode>        fixed (t_i = i / rate, default) or poisson
  --tenants <n>            tenants to create (default 4): t0 rpm-limited, t1 key-rpm-limited, t2 concurrency-limited, others unlimited
  --keys <n>               keys per tenant (default 2)
  --stream-share <x>       share of chat/completions streamed, 0..1 (default 0.5)
  --max-tokens <n>         max_tokens of each generation (default 16)
  --max-in-flight <n>      client cap on requests in flight; beyond it a due request is dropped and counted (default 2000)
  --seed <n>               PRNG seed: the same seed sends the same requests at the same times (default 1)
  --request-timeout <d>    abandon a request after this long without a byte (default 60s)
  --ledger-timeout <d>     how long to wait for the usage queue to drain (default 60s)
  --json                   print the report as JSON`

export type LoadOptions = {
  url: string | null
  adminToken: string | null
  nodes: string[]
  models: string[]
  embeddingModels: string[]
  keysOut: string | null
  skipSetup: boolean
  keysFile: string | null
  ratePerSecond: number
  durationMs: number
  arrivals: ArrivalMode
  tenants: number
  keysPerTenant: number
  streamShare: number
  maxTokens: number
  maxInFlight: number
  seed: number
  ledgerTimeoutMs: number
  requestTimeoutMs: number
  json: boolean
}

/** "500ms", "30s", "10m", "1h", or a bare number of seconds. */
export function parseDuration(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim())
  if (!match) throw new Error(`not a duration: ${raw} (e.g. 30s, 10m)`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h']
  return Math.round(Number(match[1]) * unit)
}

function numberFlag(name: string, raw: string, { min = 0, max = Infinity, integer = false } = {}): number {
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
    throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${raw}`)
  return n
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): LoadOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      'admin-token': { type: 'string' },
      node: { type: 'string', multiple: true },
      model: { type: 'string', multiple: true },
      'embedding-model': { type: 'string', multiple: true },
      'keys-out': { type: 'string' },
      'skip-setup': { type: 'boolean' },
      'keys-file': { type: 'string' },
      rate: { type: 'string', default: '20' },
      duration: { type: 'string', default: '15s' },
      arrivals: { type: 'string', default: 'fixed' },
      tenants: { type: 'string', default: '4' },
      keys: { type: 'string', default: '2' },
      'stream-share': { type: 'string', default: '0.5' },
      'max-tokens': { type: 'string', default: '16' },
      'max-in-flight': { type: 'string', default: '2000' },
      seed: { type: 'string', default: '1' },
      'ledger-timeout': { type: 'string', default: '60s' },
      'request-timeout': { type: 'string', default: '60s' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) throw new HelpRequested()
  if (values.arrivals !== 'fixed' && values.arrivals !== 'poisson') throw new Error(`--arrivals must be fixed or poisson, got ${values.arrivals}`)
  if (values['skip-setup'] && !values['keys-file']) throw new Error('--skip-setup needs --keys-file (written by an earlier run with --keys-out)')
  if (values['skip-setup'] && !values.url) throw new Error('--skip-setup needs --url (a local run starts fresh state)')
  const url = values.url ? values.url.replace(/\/+$/, '') : null
  return {
    url,
    adminToken: values['admin-token'] ?? env.ADMIN_TOKEN ?? null,
    nodes: values.node ?? [],
    models: values.model ?? [],
    embeddingModels: values['embedding-model'] ?? [],
    keysOut: values['keys-out'] ?? null,
    skipSetup: values['skip-setup'] ?? false,
    keysFile: values['keys-file'] ?? null,
    ratePerSecond: numberFlag('rate', values.rate, { min: 0.01 }),
    durationMs: parseDuration(values.duration),
    arrivals: values.arrivals,
    tenants: numberFlag('tenants', values.tenants, { min: 1, max: 1000, integer: true }),
    keysPerTenant: numberFlag('keys', values.keys, { min: 1, max: 100, integer: true }),
    streamShare: numberFlag('stream-share', values['stream-share'], { max: 1 }),
    maxTokens: numberFlag('max-tokens', values['max-tokens'], { min: 1, integer: true }),
    maxInFlight: numberFlag('max-in-flight', values['max-in-flight'], { min: 1, integer: true }),
    seed: numberFlag('seed', values.seed, { integer: true }),
    ledgerTimeoutMs: parseDuration(values['ledger-timeout']),
    requestTimeoutMs: parseDuration(values['request-timeout']),
    json: values.json ?? false,
  }
}

export class HelpRequested extends Error {}
