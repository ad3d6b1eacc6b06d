// This isolate's not-yet-flushed metric deltas, and their flush to one MetricsAggregator shard. The request
// path only adds to memory; the flush runs in waitUntil at most every METRICS_FLUSH_INTERVAL_MS (0 = after
// every request, as the tests use). A flush is loss-free and exactly-once: deltas are cut into batches with an
// id, a batch stays queued until its shard acknowledged it, and the shard ignores an id it already applied.
// The in-flight request count is not a delta (an isolate that dies mid-request would leave its +1 in the sum
// forever): every batch carries this isolate's absolute count, with the time and the isolate id, and the
// scrape sums only reports younger than gaugeTtlMs. While requests are in flight the middleware re-reports
// every gaugeHeartbeatMs, so a live isolate's report never ages out.
import {
  FAMILIES,
  formatLe,
  seriesKey,
  type Family,
  type GaugeReport,
  type Labels,
  type MetricsBatch,
} from '../../../../durable-objects/metrics-aggregator/contract.ts'
import { log } from '../../log.ts'

/** A batch this big is flushed at once, whatever the interval. */
const MAX_PENDING_SERIES = 500
/** Floor of the heartbeat: with a 0 ms flush interval (tests) an idle isolate still re-reports rarely. */
const MIN_GAUGE_HEARTBEAT_MS = 10_000

/** How often an isolate with requests in flight re-reports its count: the flush interval, at least 10 s. */
export const gaugeHeartbeatMs = (flushIntervalMs: number) => Math.max(flushIntervalMs, MIN_GAUGE_HEARTBEAT_MS)
/** Reports older than three missed heartbeats are from an isolate that is gone: the scrape leaves them out. */
export const gaugeTtlMs = (flushIntervalMs: number) => 3 * gaugeHeartbeatMs(flushIntervalMs)

const ACTIVE_KEY = seriesKey(FAMILIES.activeRequests.name, {})
let inFlight = 0
/** The count the shard last acknowledged, and when it was taken (null: never reported). */
let reported: { value: number; at: number } | null = null

/** Made at the first flush: Workers forbid random values in global scope. */
let isolateId: string | null = null
let sequence = 0
let current = new Map<string, number>()
/**
 * Histogram observations since the last batch was cut, one cell per series: an observation is one key and a few
 * additions here, and becomes its bucket/_sum/_count counter deltas (histogramDeltas' expansion) only when a
 * batch is cut, instead of a dozen series keys built per observation on the request path.
 */
type HistogramCell = { family: Family; labels: Labels; bucketCounts: number[]; sum: number; count: number }
let histograms = new Map<string, HistogramCell>()
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

/** Requests this isolate is handling now (observe-request.ts: +1 at arrival, -1 when the response or stream ends). */
export function countRequestsInFlight(delta: 1 | -1): void {
  inFlight = Math.max(0, inFlight + delta)
}

/** A report is due when the count changed since the last one, or when requests are in flight and it is getting old. */
function isGaugeDue(heartbeatMs: number): boolean {
  if (!reported) return inFlight > 0
  return reported.value !== inFlight || (inFlight > 0 && Date.now() - reported.at >= heartbeatMs)
}

export function observeHistogram(family: Family, labels: Labels, value: number): void {
  const key = seriesKey(family.name, labels)
  const buckets = family.buckets ?? []
  let cell = histograms.get(key)
  if (!cell) histograms.set(key, (cell = { family, labels, bucketCounts: buckets.map(() => 0), sum: 0, count: 0 }))
  // A plain loop, no closure: this runs three times per request (duration, overhead, time to first token).
  const counts = cell.bucketCounts
  for (let i = 0; i < buckets.length; i++) if (value <= (buckets[i] as number)) counts[i] = (counts[i] ?? 0) + 1
  cell.sum += value
  cell.count++
}

/** Moves the histogram cells into `current` as the counter deltas their observations make, one by one. */
function foldHistograms(): void {
  for (const { family, labels, bucketCounts, sum, count } of histograms.values()) {
    ;(family.buckets ?? []).forEach((bound, i) => {
      const n = bucketCounts[i] ?? 0
      if (n > 0) addCounter(`${family.name}_bucket`, { ...labels, le: formatLe(bound) }, n)
    })
    addCounter(`${family.name}_bucket`, { ...labels, le: '+Inf' }, count)
    addCounter(`${family.name}_sum`, labels, sum)
    addCounter(`${family.name}_count`, labels, count)
  }
  histograms = new Map()
}

/** Series waiting to be cut into a batch (a histogram cell counts once: the bound is a batch-size guard). */
const pendingSeries = () => current.size + histograms.size

type FlushEnv = { env: Env; shards: number; intervalMs: number; waitUntil: (p: Promise<unknown>) => void }

async function drain(env: Env, shards: number, heartbeatMs: number): Promise<void> {
  shard ??= Math.floor(Math.random() * shards)
  const isolate = (isolateId ??= crypto.randomUUID())
  const stub = env.METRICS_AGGREGATOR.getByName(shardName(shard))
  for (;;) {
    foldHistograms()
    if (current.size > 0 || (queued.length === 0 && isGaugeDue(heartbeatMs))) {
      queued.push({ id: `${isolate}:${sequence++}`, deltas: [...current] })
      current = new Map()
    }
    const batch = queued[0]
    if (!batch) return
    // The count is read at each send, so a batch retried later carries the count of then, not a stale one.
    const count = inFlight
    const gauges: GaugeReport = { isolate, at: Date.now(), values: [[ACTIVE_KEY, count]] }
    await stub.add({ ...batch, gauges }) // a failure leaves the batch queued for the next flush
    queued.shift()
    reported = { value: count, at: gauges.at }
  }
}

/**
 * Sends everything pending, and the in-flight count if it changed or is older than `heartbeatMs`; a caller
 * arriving during a flush waits for it, then flushes what it added.
 */
export function flushMetrics(env: Env, shards: number, heartbeatMs = MIN_GAUGE_HEARTBEAT_MS): Promise<void> {
  if (flushing) return flushing.catch(() => undefined).then(() => flushMetrics(env, shards, heartbeatMs))
  lastFlushAt = Date.now()
  const run = drain(env, shards, heartbeatMs).finally(() => {
    flushing = null
  })
  flushing = run
  return run
}

const flushLogged = (env: Env, shards: number, intervalMs: number) =>
  flushMetrics(env, shards, gaugeHeartbeatMs(intervalMs)).catch((err: unknown) =>
    log.warn('metrics_flush_failed', { error: err instanceof Error ? err.message : String(err), queued_batches: queued.length }),
  )

/** Called when a request (or its stream) ends, and on the in-flight heartbeat: flush now if due, else once the interval is over. */
export function scheduleFlush({ env, shards, intervalMs, waitUntil }: FlushEnv): void {
  if (pendingSeries() === 0 && queued.length === 0 && !isGaugeDue(gaugeHeartbeatMs(intervalMs))) return
  const elapsed = Date.now() - lastFlushAt
  if (intervalMs === 0 || elapsed >= intervalMs || pendingSeries() >= MAX_PENDING_SERIES) {
    waitUntil(flushLogged(env, shards, intervalMs))
    return
  }
  if (isTimerArmed) return
  isTimerArmed = true
  // waitUntil keeps the isolate alive until this flush, so an idle isolate's last deltas are not stranded.
  waitUntil(
    new Promise((resolve) => setTimeout(resolve, intervalMs - elapsed)).then(() => {
      isTimerArmed = false
      return flushLogged(env, shards, intervalMs)
    }),
  )
}
