// This isolate's not-yet-flushed metric deltas, and their flush to one MetricsAggregator shard. The request
// path only adds to memory; the flush runs in waitUntil at most every METRICS_FLUSH_INTERVAL_MS (0 = after
// every request, as the tests use). A flush is loss-free and exactly-once: deltas are cut into batches with an
// id, a batch stays queued until its shard acknowledged it, and the shard ignores an id it already applied.
import type { MetricsBatch } from '../../../../durable-objects/metrics-aggregator/metrics-aggregator.ts'
import { histogramDeltas, seriesKey, type Family, type Labels } from '../../../../durable-objects/metrics-aggregator/metric-registry.ts'
import { log } from '../../log.ts'

/** A batch this big is flushed at once, whatever the interval. */
const MAX_PENDING_SERIES = 500

/** Made at the first flush: Workers forbid random values in global scope. */
let isolateId: string | null = null
let sequence = 0
let current = new Map<string, number>()
const queued: MetricsBatch[] = []
let flushing: Promise<void> | null = null
let lastFlushAt = 0
let isTimerArmed = false

export const shardName = (index: number) => `metrics:${index}`
/** Chosen once per isolate and kept, so a retried batch goes to the shard that may already have it. */
let shard: number | null = null

export function addCounter(name: string, labels: Labels, delta = 1): void {
  const key = seriesKey(name, labels)
  current.set(key, (current.get(key) ?? 0) + delta)
}

export function observeHistogram(family: Family, labels: Labels, value: number): void {
  for (const s of histogramDeltas(family, labels, value)) addCounter(s.name, s.labels, s.value)
}

type FlushEnv = { env: Env; shards: number; intervalMs: number; waitUntil: (p: Promise<unknown>) => void }

async function drain(env: Env, shards: number): Promise<void> {
  shard ??= Math.floor(Math.random() * shards)
  isolateId ??= crypto.randomUUID()
  const stub = env.METRICS_AGGREGATOR.getByName(shardName(shard))
  for (;;) {
    if (current.size > 0) {
      queued.push({ id: `${isolateId}:${sequence++}`, deltas: [...current] })
      current = new Map()
    }
    const batch = queued[0]
    if (!batch) return
    await stub.add(batch) // a failure leaves the batch queued for the next flush
    queued.shift()
  }
}

/** Sends everything pending; a caller arriving during a flush waits for it, then flushes what it added. */
export function flushMetrics(env: Env, shards: number): Promise<void> {
  if (flushing) return flushing.catch(() => undefined).then(() => flushMetrics(env, shards))
  lastFlushAt = Date.now()
  const run = drain(env, shards).finally(() => { flushing = null })
  flushing = run
  return run
}

const flushLogged = (env: Env, shards: number) =>
  flushMetrics(env, shards).catch((err: unknown) => log.warn('metrics_flush_failed', { error: err instanceof Error ? err.message : String(err), queued_batches: queued.length }))

/** Called when a request (or its stream) ends: flush now if due, else once the interval is over. */
export function scheduleFlush({ env, shards, intervalMs, waitUntil }: FlushEnv): void {
  if (current.size === 0 && queued.length === 0) return
  const elapsed = Date.now() - lastFlushAt
  if (intervalMs === 0 || elapsed >= intervalMs || current.size >= MAX_PENDING_SERIES) {
    waitUntil(flushLogged(env, shards))
    return
  }
  if (isTimerArmed) return
  isTimerArmed = true
  // waitUntil keeps the isolate alive until this flush, so an idle isolate's last deltas are not stranded.
  waitUntil(new Promise((resolve) => setTimeout(resolve, intervalMs - elapsed)).then(() => {
    isTimerArmed = false
    return flushLogged(env, shards)
  }))
}
