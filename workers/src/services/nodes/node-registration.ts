// A launched node announcing itself: its run script POSTs /nodes/register with the per-node token minted for
// its launch attempt, once vLLM answers /health. The node becomes 'warming' with its endpoint and models; the
// route then starts its NodeMonitor, which makes it 'ready' once /health passes.
import type { Db } from '../../db/client.ts'
import { ApiError } from '../../errors.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import type { NodeRegistration } from '../../schemas/node-ops.ts'
import { digestMatches } from './node-credentials.ts'
import { findNodeByName, transitionNode, type LaunchedNode } from './node-launch-store.ts'

// One answer for every credential failure, so the endpoint does not reveal which cluster names exist.
const badToken = () => new ApiError('unauthorized', 'Invalid node registration token.', { code: 'invalid_registration_token' })

export async function registerLaunchedNode(db: Db, registration: NodeRegistration, presentedToken: string, requestId: string | null = null): Promise<LaunchedNode> {
  const found = await findNodeByName(db, registration.cluster_name)
  const hash = found?.launch?.registerTokenHash
  if (!found || !hash || !presentedToken || !(await digestMatches(presentedToken, hash))) throw badToken()
  const result = await transitionNode(db, registration.cluster_name, { type: 'registered' }, {
    endpoint: registration.endpoint.replace(/\/+$/, ''), models: registration.models, lastError: null,
  })
  if (!result) throw badToken()
  if (!result.applied) {
    throw new ApiError('conflict', `Node '${registration.cluster_name}' is ${result.node.status} and cannot register.`, { code: 'node_not_registrable' })
  }
  await auditStatement(db, {
    actor: 'node', action: 'node.self_register', target: result.node.id, requestId: requestId ?? undefined,
    before: { status: result.from }, after: { status: result.node.status, endpoint: result.node.endpoint, models: result.node.models },
  }).run()
  return result
}
