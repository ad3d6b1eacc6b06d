// Scrape-time series read from D1 for the alert rules: dead letters pending (usage, node-ops), meter pushes Stripe
// has not counted, nodes by status, launch failures and budget threshold crossings. One D1 batch of six bounded statements per scrape
// (D1 allows 1,000 queries per invocation and 100 bound parameters per statement: platform-facts §10; these bind
// none). Called by scrape-metrics.ts, whose node gauges need the same fleet read.
import { count, eq, inArray, sql } from 'drizzle-orm'
import { FAMILIES, type Sample } from '../../../../durable-objects/metrics-aggregator/contract.ts'
import { BUDGET_THRESHOLD_ACTION } from '../../../../durable-objects/tenant-gate/contract.ts'
import type { Db } from '../../db/client.ts'
import { auditLog, meterPushes, nodeOpsDeadLetters, nodes, usageDeadLetters } from '../../db/schema.ts'
import { NODE_STATUSES } from '../../schemas/node-ops.ts'

/** `gone` is never stored: a node that is gone has no row (node-status.ts deleteNodeIf). */
export const EXPORTED_NODE_STATUSES = NODE_STATUSES.filter((s) => s !== 'gone')

/**
 * Stripe has not counted these and they need a look: `failed` rows are retried every hour, but one that stays
 * failed (Stripe or the network down for hours, or older than Stripe's 35-day window, which is never retried)
 * is unbilled usage; `rejected` rows Stripe refused for good and are never resent (billing/meter-push.ts).
 * `pending` rows are not counted: they are being sent, or wait for the next run.
 */
export const UNCOUNTED_METER_STATUSES = ['failed', 'rejected'] as const

/**
 * A launch attempt that ended `failed`, whoever failed it: the runner's report (queued/launching → failed), the
 * launch or relaunch that could not be queued, and the NodeMonitor's launch deadline (launching/warming →
 * failed; a ready node lost to health checks is not a launch failure). The deadline is applied inside the
 * NodeMonitor, which has no metrics buffer, so the counter is the number of those audit rows (each written with
 * its change; audit_log_action_idx keeps the read to node.* failure and report rows). It only grows while
 * audit_log is append-only: a future audit retention must keep these rows or move this count to a column.
 */
const LAUNCH_FAILED = sql`(${auditLog.action} = 'node.runner_report' AND json_extract(${auditLog.after}, '$.status') = 'failed')
  OR (${auditLog.action} = 'node.failed' AND ${auditLog.actor} = 'node-monitor' AND json_extract(${auditLog.before}, '$.status') IN ('launching', 'warming'))
  OR ${auditLog.action} IN ('node.launch_enqueue_failed', 'node.relaunch_enqueue_failed')`

export type StateRead = { fleet: { id: string; status: string; endpoint: string }[]; samples: Sample[] }

export async function readStateGauges(db: Db): Promise<StateRead> {
  const [fleet, usageDlq, nodeOpsDlq, meterFailed, launchFailures, budgetCrossings] = await db.batch([
    db.select({ id: nodes.id, status: nodes.status, endpoint: nodes.endpoint }).from(nodes),
    db.select({ n: count() }).from(usageDeadLetters).where(eq(usageDeadLetters.status, 'pending')),
    db.select({ n: count() }).from(nodeOpsDeadLetters).where(eq(nodeOpsDeadLetters.status, 'pending')),
    db.select({ n: count() }).from(meterPushes).where(inArray(meterPushes.status, UNCOUNTED_METER_STATUSES)),
    db.select({ n: count() }).from(auditLog).where(LAUNCH_FAILED),
    // Written by the TenantGate object, which has no metrics buffer (audit_log_action_idx keeps it an index read).
    db.select({ n: count() }).from(auditLog).where(eq(auditLog.action, BUDGET_THRESHOLD_ACTION)),
  ])
  const byStatus = new Map<string, number>(EXPORTED_NODE_STATUSES.map((s) => [s, 0]))
  for (const n of fleet) if (byStatus.has(n.status)) byStatus.set(n.status, (byStatus.get(n.status) ?? 0) + 1)
  const samples: Sample[] = [
    { name: FAMILIES.usageDeadLettersPending.name, labels: {}, value: usageDlq[0]?.n ?? 0 },
    { name: FAMILIES.nodeOpsDeadLettersPending.name, labels: {}, value: nodeOpsDlq[0]?.n ?? 0 },
    { name: FAMILIES.meterPushesFailed.name, labels: {}, value: meterFailed[0]?.n ?? 0 },
    ...[...byStatus].map(([status, value]) => ({ name: FAMILIES.nodes.name, labels: { status }, value })),
    { name: FAMILIES.nodeLaunchFailures.name, labels: {}, value: launchFailures[0]?.n ?? 0 },
    { name: FAMILIES.budgetThresholdCrossings.name, labels: {}, value: budgetCrossings[0]?.n ?? 0 },
  ]
  return { fleet, samples }
}
