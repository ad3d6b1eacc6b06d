// GET /metrics: sums every MetricsAggregator shard (exact up to what isolates have flushed, at most
// METRICS_FLUSH_INTERVAL_MS old; in-flight counts only from isolates that reported within gaugeTtlMs) and
// reads the NodeMonitor snapshot of each node that has an endpoint to check (exact at scrape time), and the D1
// state the alert rules watch (state-gauges.ts, one batch that also reads the fleet).
import { FAMILIES, mergeDeltas, renderExposition, type Sample } from '../../../../durable-objects/metrics-aggregator/contract.ts'
import type { NodeSnapshot } from '../../../../durable-objects/node-monitor/contract.ts'
import { createDb } from '../../db/client.ts'
import { nodeSnapshots } from '../nodes/node-monitor-client.ts'
import { fleetSamples } from '../fleet/fleet-gauges.ts'
import { outboxSamples } from '../usage/outbox-metrics.ts'
import { gaugeTtlMs, shardName } from './metrics-buffer.ts'
import { readStateGauges } from './state-gauges.ts'

const BREAKER_VALUES = { closed: 0, half_open: 1, open: 2 } as const

/**
 * Statuses in which a node has (or may still have) a vLLM to check. A queued or launching node has no endpoint
 * yet: snapshotting it would start its NodeMonitor probing '/health' of nothing and export cic_node_up 0, a
 * false "node down". Terminating nodes count while they still have an endpoint.
 */
const EXPORTED_STATUSES: ReadonlySet<string> = new Set(['warming', 'ready', 'failed', 'draining', 'terminating'])

export const isExportedNode = (n: { status: string; endpoint: string }) => EXPORTED_STATUSES.has(n.status) && n.endpoint !== ''

export function nodeGauges(nodeId: string, snap: NodeSnapshot): Sample[] {
  const labels = { node: nodeId }
  const out: Sample[] = [
    { name: FAMILIES.nodeUp.name, labels, value: snap.health.state === 'healthy' ? 1 : 0 },
    { name: FAMILIES.nodeBreaker.name, labels, value: BREAKER_VALUES[snap.breaker.phase] },
  ]
  if (snap.load) {
    out.push({ name: FAMILIES.nodeInflight.name, labels, value: snap.load.running })
    out.push({ name: FAMILIES.nodeQueue.name, labels, value: snap.load.waiting })
    if (snap.load.kvCacheUsage !== null) out.push({ name: FAMILIES.nodeKvCache.name, labels, value: snap.load.kvCacheUsage })
  }
  return out
}

export async function scrapeMetrics(env: Env, shards: number, flushIntervalMs: number): Promise<string> {
  const ttlMs = gaugeTtlMs(flushIntervalMs)
  const [shardSeries, { fleet, samples: state }, outbox, fleets] = await Promise.all([
    Promise.all(Array.from({ length: shards }, (_, i) => env.METRICS_AGGREGATOR.getByName(shardName(i)).read(ttlMs))),
    readStateGauges(createDb(env.DB)),
    outboxSamples(env),
    fleetSamples(env.DB),
  ])
  const summed = new Map<string, number>()
  for (const series of shardSeries)
    mergeDeltas(
      summed,
      series.map((s) => [s.key, s.value] as const),
    )
  const live = fleet.filter(isExportedNode).map((n) => n.id)
  const snapshots = await nodeSnapshots(env, live)
  const gauges = [...snapshots].flatMap(([id, snap]) => nodeGauges(id, snap))
  return renderExposition(summed, [...gauges, ...state, ...outbox, ...fleets])
}
