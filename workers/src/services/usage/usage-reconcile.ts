// The reconciliation report behind GET /admin/usage/reconcile: per node, the tokens the ledger recorded next
// to the tokens the node itself counted (its vLLM counters, sampled by health checks), so drift is visible.
//
// The ledger side is read from usage_node_hourly (kept 90 days; usage_events is pruned after the dedupe
// horizon), so it is whole UTC hours. Counters are compared between the first and last sample inside [from, to):
// the node's increase is the sum of its sample-to-sample increases, a drop counting as a restart from zero
// (Prometheus `increase()` semantics), and the ledger is summed over the hours between the hour boundaries
// nearest those two samples. With a sample a minute, each end of the window is off by at most the traffic of
// about a minute: read drift over several hours, not one. A node whose samples do not span an hour boundary has
// no counter figure, and its ledger is summed over the hours starting in [from, to).
import { and, eq, gte, lt, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { nodes, usageNodeHourly } from '../../db/schema.ts'

const HOUR_MS = 3_600_000
const nearestHour = (ms: number) => Math.round(ms / HOUR_MS) * HOUR_MS

type CounterRow = { node_id: string; samples: number; first_at: number; last_at: number; prompt: number; generation: number; resets: number }

const counterIncreases = (from: number, to: number) => sql`
  WITH s AS (
    SELECT node_id, at, prompt_tokens_total AS p, generation_tokens_total AS g,
      lag(prompt_tokens_total) OVER w AS prev_p, lag(generation_tokens_total) OVER w AS prev_g
    FROM node_counter_samples WHERE at >= ${from} AND at < ${to}
    WINDOW w AS (PARTITION BY node_id ORDER BY at)
  )
  SELECT node_id, count(*) AS samples, min(at) AS first_at, max(at) AS last_at,
    coalesce(sum(CASE WHEN prev_p IS NULL THEN 0 WHEN p >= prev_p THEN p - prev_p ELSE p END), 0) AS prompt,
    coalesce(sum(CASE WHEN prev_g IS NULL THEN 0 WHEN g >= prev_g THEN g - prev_g ELSE g END), 0) AS generation,
    coalesce(sum(CASE WHEN prev_g IS NOT NULL AND (g < prev_g OR p < prev_p) THEN 1 ELSE 0 END), 0) AS resets
  FROM s GROUP BY node_id`

export async function reconcileUsage(db: Db, range: { from: number; to: number }) {
  const [counters, known] = await Promise.all([
    db.all<CounterRow>(counterIncreases(range.from, range.to)),
    db.select({ id: nodes.id, name: nodes.name }).from(nodes).all(),
  ])
  const byNode = new Map(counters.map((c) => [c.node_id, c]))
  const names = new Map(known.map((n) => [n.id, n.name]))
  const nodeIds = [...new Set([...names.keys(), ...byNode.keys()])].sort()
  const windows = nodeIds.map((id) => {
    const c = byNode.get(id)
    return c && spansHours(c) ? { from: nearestHour(c.first_at), to: nearestHour(c.last_at) } : range
  })
  const ledger = await Promise.all(nodeIds.map((id, i) => ledgerTotals(db, id, windows[i] ?? range)))
  return {
    object: 'usage_reconciliation' as const,
    from: range.from,
    to: range.to,
    data: nodeIds.map((id, i) => nodeReport(id, names.get(id) ?? null, byNode.get(id), windows[i] ?? range, ledger[i] ?? ZERO)),
  }
}

type LedgerTotals = { requests: number; prompt_tokens: number; completion_tokens: number }
const ZERO: LedgerTotals = { requests: 0, prompt_tokens: 0, completion_tokens: 0 }

const spansHours = (c: CounterRow) => c.samples >= 2 && nearestHour(c.last_at) > nearestHour(c.first_at)

/** The node's ledger over the hours starting in [from, to). */
async function ledgerTotals(db: Db, nodeId: string, window: { from: number; to: number }): Promise<LedgerTotals> {
  const row = await db
    .select({
      requests: sql<number>`coalesce(sum(${usageNodeHourly.requests}), 0)`,
      prompt_tokens: sql<number>`coalesce(sum(${usageNodeHourly.promptTokens}), 0)`,
      completion_tokens: sql<number>`coalesce(sum(${usageNodeHourly.completionTokens}), 0)`,
    })
    .from(usageNodeHourly)
    .where(and(eq(usageNodeHourly.nodeId, nodeId), gte(usageNodeHourly.hourStart, window.from), lt(usageNodeHourly.hourStart, window.to)))
    .get()
  return row ?? ZERO
}

function nodeReport(nodeId: string, name: string | null, c: CounterRow | undefined, window: { from: number; to: number }, ledger: LedgerTotals) {
  const hasCounters = c !== undefined && spansHours(c)
  const node = hasCounters ? { prompt_tokens: c.prompt, generation_tokens: c.generation, counter_resets: c.resets } : null
  return {
    node_id: nodeId,
    node_name: name,
    samples: c?.samples ?? 0,
    window,
    ledger,
    node,
    drift: node && {
      prompt_tokens: ledger.prompt_tokens - node.prompt_tokens,
      generation_tokens: ledger.completion_tokens - node.generation_tokens,
      /** Ledger generation tokens relative to the node's, in percent; null when the node generated nothing. */
      generation_pct: node.generation_tokens > 0 ? round2(((ledger.completion_tokens - node.generation_tokens) / node.generation_tokens) * 100) : null,
    },
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100
