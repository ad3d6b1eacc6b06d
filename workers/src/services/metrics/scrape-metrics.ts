// GET /metrics: sums every MetricsAggregator shard (exact up to what isolates have flushed, at most
// METRICS_FLUSH_INTERVAL_MS old) and reads each registered node's NodeMonitor snapshot (exact at scrape time).
import { renderExposition } from '../../../../durable-objects/metrics-aggregator/exposition.ts'
import { FAMILIES, mergeDeltas, type Sample } from '../../../../durable-objects/metrics-aggregator/metric-registry.ts'
import { FINAL_STATUSES } from '../../../../durable-objects/node-monitor/node-lifecycle.ts'
import type { NodeSnapshot } from '../../../../durable-objects/node-monitor/monitor-state.ts'
import { createDb } from '../../db/client.ts'
import { nodes } from '../../db/schema.ts'
import { nodeSnapshots } from '../nodes/node-monitor-client.ts'
import { shardName } from './metrics-buffer.ts'

const BREAKER_VALUES = { closed: 0, half_open: 1, open: 2 } as const

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

export async function scrapeMetrics(env: Env, shards: number): Promise<string> {
  const [shardSeries, fleet] = await Promise.all([
    Promise.all(Array.from({ length: shards }, (_, i) => env.METRICS_AGGREGATOR.getByName(shardName(i)).read())),
    createDb(env.DB).select({ id: nodes.id, status: nodes.status }).from(nodes),
  ])
  const summed = new Map<string, number>()
  for (const series of shardSeries) mergeDeltas(summed, series.map((s) => [s.key, s.value] as const))
  const live = fleet.filter((n) => !FINAL_STATUSES.has(n.status)).map((n) => n.id)
  const snapshots = await nodeSnapshots(env, live)
  const gauges = [...snapshots].flatMap(([id, snap]) => nodeGauges(id, snap))
  return renderExposition(summed, gauges)
}
