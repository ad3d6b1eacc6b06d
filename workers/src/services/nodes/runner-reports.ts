// The runner's side of the control plane: status reports (the runner never writes D1 itself) and the minting of
// one launch attempt's secrets. Called by routes/runner/nodes.ts, authenticated with RUNNER_TOKEN.
import type { Db } from '../../db/client.ts'
import { ApiError } from '../../errors.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import type { NodeCredentials, RunnerStatusReport, RunnerStatusResult } from '../../schemas/node-ops.ts'
import { randomSecret, sha256Hex } from './node-credentials.ts'
import { findNodeByName, transitionNode, updateLaunch, updateNodeIfStatus } from './node-launch-store.ts'
import { seal } from '../../db/secret-box.ts'
import { FAMILIES } from '../../../../durable-objects/metrics-aggregator/contract.ts'
import { addCounter } from '../metrics/metrics-buffer.ts'

/** Trailing slashes are not part of a node's endpoint (registration compares normalized endpoints). */
export const normalizeEndpoint = (endpoint: string) => endpoint.replace(/\/+$/, '')

const notFound = (clusterName: string) => new ApiError('not_found', `No node named '${clusterName}'.`, { code: 'node_not_found', param: 'cluster_name' })

/**
 * Applies a runner report if the lifecycle allows it and answers with the node's status after it. The runner
 * acts on that answer: a `launching` report that is not applied means the launch is no longer wanted.
 */
export async function applyRunnerReport(db: Db, clusterName: string, report: RunnerStatusReport, requestId: string | null = null): Promise<RunnerStatusResult> {
  // A new attempt clears the previous attempt's error; failures record theirs; other reports keep what is there.
  const lastError = report.error !== undefined ? report.error : report.status === 'launching' ? null : undefined
  const changes = {
    ...(lastError !== undefined ? { lastError } : {}),
    // A terminated node's key is useless and should not linger, even sealed.
    ...(report.status === 'terminated' ? { apiKeyCiphertext: null } : {}),
  }
  const result = await transitionNode(db, clusterName, { type: 'runner', status: report.status }, changes)
  if (!result) throw notFound(clusterName)
  // Each failed try at the node's tunnel/DNS/Access counts, applied or not (a retry of a cleanup keeps the status).
  if (report.node_path_failure) addCounter(FAMILIES.nodePathFailures.name, { stage: report.node_path_failure })
  // After the compare-and-set that succeeded (as node-launches.ts does), so a lost race writes no audit row.
  if (result.applied) {
    await auditStatement(db, {
      actor: 'runner',
      action: 'node.runner_report',
      target: result.node.id,
      requestId: requestId ?? undefined,
      before: { status: result.from },
      after: { status: result.node.status, ...(report.error !== undefined ? { error: report.error } : {}) },
    }).run()
  }
  if (result.applied && report.status === 'launching' && result.from !== 'launching') await updateLaunch(db, clusterName, { addAttempt: true })
  if (result.applied && (report.status === 'terminated' || report.status === 'failed'))
    await updateLaunch(db, clusterName, { registerTokenHash: null, endpoint: null })
  return {
    cluster_name: result.node.name,
    node_id: result.node.id,
    status: result.node.status as RunnerStatusResult['status'],
    applied: result.applied,
    previous_status: result.from as RunnerStatusResult['previous_status'],
  }
}

/**
 * Fresh secrets for the launch attempt in progress: a registration token (only its SHA-256 is kept) and the
 * node's vLLM API key (kept AES-GCM sealed, used by the gateway). Refused unless the node is `launching`, so a
 * node that is already serving never has its key replaced under it. `endpoint`: the one the runner created for
 * this attempt (its tunnel hostname, checked against the endpoint policy by the route); it is stored with the
 * token, and registration accepts no other. A runner that sends none leaves the attempt without one (see
 * node-registration.ts for what that means).
 */
export async function mintNodeCredentials(db: Db, secretsKey: string, clusterName: string, endpoint?: string): Promise<NodeCredentials> {
  const found = await findNodeByName(db, clusterName)
  if (!found?.launch) throw notFound(clusterName)
  const registerToken = randomSecret('cicreg_')
  const vllmApiKey = randomSecret('sk-node-')
  const stored = await updateNodeIfStatus(db, found.node.id, 'launching', { apiKeyCiphertext: await seal(secretsKey, vllmApiKey) })
  if (!stored) {
    throw new ApiError('conflict', `Node '${clusterName}' is ${found.node.status}, not launching; no credentials were minted.`, { code: 'node_not_launching' })
  }
  await updateLaunch(db, clusterName, {
    registerTokenHash: await sha256Hex(registerToken),
    endpoint: endpoint === undefined ? null : normalizeEndpoint(endpoint),
  })
  return { cluster_name: clusterName, node_id: found.node.id, register_token: registerToken, vllm_api_key: vllmApiKey }
}
