// The usage outbox's figures for GET /metrics, read from every UsageOutbox shard at scrape time (exact: each
// object counts what it took in and what still waits). Called by services/metrics/scrape-metrics.ts.
import { FAMILIES, type Sample } from '../../../../durable-objects/metrics-aggregator/metric-registry.ts'
import { USAGE_OUTBOX_SHARDS, usageOutboxName } from '../../../../durable-objects/usage-outbox/contract.ts'

export async function outboxSamples(env: Pick<Env, 'USAGE_OUTBOX'>): Promise<Sample[]> {
  const stats = await Promise.all(Array.from({ length: USAGE_OUTBOX_SHARDS }, (_, i) => env.USAGE_OUTBOX.getByName(usageOutboxName(i)).stats()))
  const sum = (pick: (s: (typeof stats)[number]) => number) => stats.reduce((n, s) => n + pick(s), 0)
  return [
    { name: FAMILIES.usageFallbackEvents.name, labels: {}, value: sum((s) => s.received) },
    { name: FAMILIES.usageFallbackPending.name, labels: {}, value: sum((s) => s.pending) },
  ]
}
