// The admin API's JSON for a node: its D1 record (nodeView, also written to audit rows) and, for reads, what
// its NodeMonitor knows (breaker, health, load). Pure.
import type { NodeRow } from '../../db/schema.ts'
import type { NodeSnapshot } from './node-monitor-client.ts'

export const nodeView = (n: NodeRow) => ({
  id: n.id,
  object: 'node',
  name: n.name,
  endpoint: n.endpoint,
  models: n.models,
  status: n.status,
  provider: n.provider,
  region: n.region,
  gpu: n.gpu,
  engine: n.engine,
  has_api_key: n.apiKeyCiphertext !== null,
  last_error: n.lastError,
  created_at: n.createdAt,
  updated_at: n.updatedAt,
})

/** The most recent error anyone saw for the node: a request's (breaker) or a health check's. */
function lastError(s: NodeSnapshot, row: NodeRow): { message: string | null; at: number | null } {
  const candidates = [
    { message: s.breaker.lastError, at: s.breaker.lastErrorAt },
    { message: s.health.lastError, at: s.health.lastErrorAt },
  ].filter((e): e is { message: string; at: number } => e.message !== null && e.at !== null)
  const latest = candidates.sort((a, b) => b.at - a.at)[0]
  return latest ?? { message: row.lastError, at: null }
}

export function nodeDetailView(row: NodeRow, s: NodeSnapshot) {
  const error = lastError(s, row)
  return {
    ...nodeView(row),
    last_error: error.message,
    last_error_at: error.at,
    removing: s.removal !== null,
    breaker: {
      state: s.breaker.phase,
      since: s.breaker.since,
      consecutive_failures: s.breaker.consecutiveFailures,
      retry_at: s.breaker.retryAt,
      probes_in_flight: s.breaker.probeLeases.length,
      failure_threshold: s.breakerConfig.failureThreshold,
      cooldown_ms: s.breakerConfig.cooldownMs,
      half_open_probes: s.breakerConfig.halfOpenProbes,
    },
    health: {
      state: s.health.state,
      since: s.health.since,
      consecutive_failures: s.health.consecutiveFailures,
      last_check_at: s.health.lastCheckAt,
      last_ok_at: s.health.lastOkAt,
      last_error: s.health.lastError,
    },
    // The node's own gauges (vLLM /metrics), across every gateway isolate; null when it exposes none.
    in_flight: s.load?.running ?? null,
    queue_depth: s.load?.waiting ?? null,
    kv_cache_usage: s.load?.kvCacheUsage ?? null,
    metrics_at: s.load?.scrapedAt ?? null,
  }
}
