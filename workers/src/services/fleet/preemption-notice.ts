// A launched node's warning that its cloud is about to preempt it (AWS: the Spot interruption notice, two minutes
// ahead, in the instance metadata `spot/instance-action`; GCP: `instance/preempted` in the metadata server, about
// 30 s ahead). The node is taken out of routing at once (draining: running requests finish while the VM lives),
// its NodeMonitor sends the terminate once it is idle or gone, and its fleet launches the replacement now instead
// of after the NodeMonitor's failed health checks. Authenticated with the node's registration token (only the
// node of that launch attempt has it). Called by routes/nodes/preemption-notice.ts.
import { nudgeFleet } from '../../../../durable-objects/fleet-reconciler/contract.ts'
import type { Db } from '../../db/client.ts'
import { log } from '../../log.ts'
import type { PreemptionNotice } from '../../schemas/fleet.ts'
import type { TerminateMessage } from '../../schemas/node-ops.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import { digestMatches } from '../nodes/node-credentials.ts'
import { findNodeByName, transitionNode } from '../nodes/node-launch-store.ts'
import { monitorOf } from '../nodes/node-monitor-client.ts'
import { badRegistrationToken } from '../nodes/node-registration.ts'

const SERVING: ReadonlySet<string> = new Set(['warming', 'ready'])

export type NoticeResult = { cluster_name: string; node_id: string; status: string; applied: boolean }

export async function acceptPreemptionNotice(env: Env, db: Db, notice: PreemptionNotice, token: string, requestId: string): Promise<NoticeResult> {
  const found = await findNodeByName(db, notice.cluster_name)
  const hash = found?.launch?.registerTokenHash
  if (!found?.launch || !hash || !(await digestMatches(token, hash))) throw badRegistrationToken()
  // Only a node that registered in this attempt drains on a notice; a repeated notice (the node's watcher retries
  // until it gets an answer) finds it leaving already, and a failed or terminating node must not move back.
  const unchanged = { cluster_name: found.node.name, node_id: found.node.id, status: found.node.status, applied: false }
  if (!SERVING.has(found.node.status)) return unchanged
  const result = await transitionNode(db, notice.cluster_name, { type: 'terminate_requested' })
  if (!result?.applied || !SERVING.has(result.from)) return result ? { ...unchanged, status: result.node.status } : unchanged
  const view = { cluster_name: result.node.name, node_id: result.node.id, status: result.node.status, applied: true }
  await auditStatement(db, {
    actor: 'node',
    action: 'node.preemption_notice',
    target: result.node.id,
    requestId,
    before: { status: result.from },
    after: { status: result.node.status, source: notice.source, not_after: notice.not_after ?? null },
  }).run()
  log.warn('node_preemption_notice', { clusterName: notice.cluster_name, source: notice.source, notAfter: notice.not_after ?? null })
  const terminate: TerminateMessage = { op: 'terminate', cluster_name: result.node.name, node_id: result.node.id, requested_at: Date.now() }
  // Best effort both: the node dies anyway; its monitor then fails it, and the fleet's alarm and cron catch up.
  await Promise.all([
    monitorOf(env, result.node.id)
      .requestTermination(result.node.id, terminate)
      .catch((err: unknown) => log.error('node_terminate_handoff_failed', { clusterName: notice.cluster_name, error: String(err) })),
    ...(found.launch.fleetModel
      ? [
          nudgeFleet(env, found.launch.fleetModel, 'preemption_notice').catch((err: unknown) =>
            log.warn('fleet_nudge_failed', { clusterName: notice.cluster_name, error: String(err) }),
          ),
        ]
      : []),
  ])
  return view
}
