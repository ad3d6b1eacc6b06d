// The gateway's metric families (name, type, help, histogram buckets) and the one way a labelled series is
// keyed. Pure: used by the Worker isolates that accumulate deltas (services/metrics/), by the MetricsAggregator
// objects that sum them, and by exposition.ts that renders the sum. Every label value is bounded by its source.

export type MetricType = 'counter' | 'gauge' | 'histogram'
export type Family = { name: string; type: MetricType; help: string; buckets?: readonly number[] }
export type Labels = Readonly<Record<string, string>>

/** Seconds: from well under a millisecond (gateway overhead) to minutes (long streams). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const

export const FAMILIES = {
  httpRequests: { name: 'cic_http_requests_total', type: 'counter', help: 'HTTP requests answered by the gateway, by method, route template and status.' },
  httpDuration: {
    name: 'cic_http_request_duration_seconds',
    type: 'histogram',
    help: 'Time from request arrival to the end of the response (end of the stream for SSE).',
    buckets: LATENCY_BUCKETS,
  },
  ttft: {
    name: 'cic_time_to_first_token_seconds',
    type: 'histogram',
    help: 'Streamed inference: time from request arrival to the first event relayed to the client.',
    buckets: LATENCY_BUCKETS,
  },
  overhead: {
    name: 'cic_gateway_overhead_seconds',
    type: 'histogram',
    help: 'Request duration minus the time spent waiting on nodes (until first byte, and streaming).',
    buckets: LATENCY_BUCKETS,
  },
  activeRequests: {
    name: 'cic_active_requests',
    type: 'gauge',
    help: "Requests being handled by the gateway (streams until they end): the sum of each live isolate's latest in-flight count.",
  },
  upstreamErrors: {
    name: 'cic_upstream_errors_total',
    type: 'counter',
    help: 'Failed attempts at a node, by node id and failure kind (retried ones included).',
  },
  dependencyFailures: {
    name: 'cic_dependency_failures_total',
    type: 'counter',
    help: 'Requests answered 503 because a dependency failed, by dependency (d1, tenant_gate, node_monitor, queue).',
  },
  rateLimited: { name: 'cic_rate_limited_total', type: 'counter', help: 'Requests refused by admission, by the limit that refused them.' },
  authFailures: {
    name: 'cic_auth_failures_total',
    type: 'counter',
    help: 'Refused API keys, by reason: malformed, checksum, unknown, revoked, throttled (answered 429 by the per-client bound).',
  },
  consoleSignIns: {
    name: 'cic_console_sign_ins_total',
    type: 'counter',
    help: 'Console sign-ins, by outcome: signed_in, refused (state, code, ID token or nonce), unverified (email_verified false), expired (no sign-in in progress in this browser), provider_unavailable (the OIDC issuer could not be reached, at the start or the callback).',
  },
  tokens: { name: 'cic_tokens_total', type: 'counter', help: 'Tokens in usage events sent to the ledger, by direction (prompt, completion) and model.' },
  nodeUp: {
    name: 'cic_node_up',
    type: 'gauge',
    help: "Whether the node's last health checks succeeded (1) or not (0), read from its NodeMonitor at scrape time.",
  },
  nodeBreaker: { name: 'cic_node_breaker_state', type: 'gauge', help: 'Circuit breaker of the node: 0 closed, 1 half-open, 2 open.' },
  nodeInflight: { name: 'cic_node_inflight', type: 'gauge', help: 'Requests running on the node (vLLM num_requests_running at the last scrape).' },
  nodeQueue: { name: 'cic_node_queue_depth', type: 'gauge', help: 'Requests waiting on the node (vLLM num_requests_waiting at the last scrape).' },
  nodeKvCache: { name: 'cic_node_kv_cache_usage', type: 'gauge', help: 'KV cache usage of the node, 0 to 1 (vLLM kv_cache_usage_perc at the last scrape).' },
  // Read from D1 at scrape time (services/metrics/scrape-metrics.ts), for the alert rules.
  usageDeadLettersPending: {
    name: 'cic_usage_dead_letters_pending',
    type: 'gauge',
    help: 'Usage events in the usage-events dead-letter queue table (usage_dead_letters) not replayed yet.',
  },
  nodeOpsDeadLettersPending: {
    name: 'cic_node_ops_dead_letters_pending',
    type: 'gauge',
    help: 'Node launch/terminate jobs orchestrator-runner dead-lettered (node_ops_dead_letters) not replayed yet.',
  },
  meterPushesFailed: {
    name: 'cic_meter_pushes_failed',
    type: 'gauge',
    help: 'Stripe meter pushes Stripe has not counted: failed (retried hourly) or rejected (never resent).',
  },
  nodes: { name: 'cic_nodes', type: 'gauge', help: 'Nodes by lifecycle status, from D1 (every status, 0 included).' },
  nodeLaunchFailures: {
    name: 'cic_node_launch_failures_total',
    type: 'counter',
    help: 'Node launch attempts that ended failed (runner failure, enqueue failure, launch deadline), counted from the audit log.',
  },
  nodePathFailures: {
    name: 'cic_node_path_failures_total',
    type: 'counter',
    help: "Failed tries at a launched node's private path (Cloudflare Tunnel, DNS record, Access app), reported by orchestrator-runner, by stage (create, cleanup).",
  },
  // Fleets (issue 15), read from D1 at scrape time (services/fleet/fleet-gauges.ts); `model` only from fleets an admin made.
  fleetReconcileActions: {
    name: 'cic_fleet_reconcile_actions_total',
    type: 'counter',
    help: 'Fleet reconciler actions (launch, resend_launch, terminate_failed, forget, blocked_max_nodes, fallback_on_demand), counted from the audit log.',
  },
  fleetReadyNodes: { name: 'cic_fleet_ready_nodes', type: 'gauge', help: 'Ready nodes of each fleet, by model.' },
  fleetMinReady: { name: 'cic_fleet_min_ready', type: 'gauge', help: 'Desired ready nodes (min_ready) of each fleet, by model.' },
  budgetThresholdCrossings: {
    name: 'cic_budget_threshold_crossings_total',
    type: 'counter',
    help: "Tenants' monthly budgets (tokens or USD) crossing 50, 80 or 100 %, counted from the audit log (no tenant label).",
  },
  usageFallbackEvents: {
    name: 'cic_usage_fallback_events_total',
    type: 'counter',
    help: "Usage events the usage-events Queue refused after the sender's retries, taken into the durable outbox (read from the UsageOutbox objects at scrape time).",
  },
  usageFallbackPending: {
    name: 'cic_usage_fallback_pending',
    type: 'gauge',
    help: 'Usage events in the durable outbox not yet re-sent to the Queue (read at scrape time).',
  },
  // Admission slices (issue 19): counted by the AdmissionLocation objects themselves (admission-location.ts).
  admissionExchangeFailures: {
    name: 'cic_admission_exchange_failures_total',
    type: 'counter',
    help: "Admission location objects' exchanges with the tenant's home object that failed (the location keeps its report for the next one and admits nothing beyond its slice meanwhile).",
  },
} as const satisfies Record<string, Family>

export const FAMILY_LIST: readonly Family[] = Object.values(FAMILIES)

/** One series: the sample name (with `_bucket`/`_sum`/`_count` for histograms) and its labels. */
export type Sample = { name: string; labels: Labels; value: number }

/** Canonical key of a series: labels sorted by name, so the same set always lands on the same row. */
export function seriesKey(name: string, labels: Labels): string {
  return JSON.stringify([name, Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))])
}

export function parseSeriesKey(key: string): { name: string; labels: Labels } {
  const [name, entries] = JSON.parse(key) as [string, [string, string][]]
  return { name, labels: Object.fromEntries(entries) }
}

/** Formats a bucket bound as Prometheus does (`0.25`, `1`, `+Inf`). */
export const formatLe = (bound: number): string => (bound === Infinity ? '+Inf' : String(bound))

/** The counter increments one histogram observation makes: every bucket holding it, +Inf, `_sum`, `_count`. */
export function histogramDeltas(family: Family, labels: Labels, value: number): Sample[] {
  const out: Sample[] = []
  for (const bound of family.buckets ?? []) {
    if (value <= bound) out.push({ name: `${family.name}_bucket`, labels: { ...labels, le: formatLe(bound) }, value: 1 })
  }
  out.push({ name: `${family.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: 1 })
  out.push({ name: `${family.name}_sum`, labels, value })
  out.push({ name: `${family.name}_count`, labels, value: 1 })
  return out
}

/** Adds `deltas` (series key → increment) into `into`. */
export function mergeDeltas(into: Map<string, number>, deltas: Iterable<readonly [string, number]>): void {
  for (const [key, value] of deltas) into.set(key, (into.get(key) ?? 0) + value)
}
