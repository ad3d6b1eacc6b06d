// A launched node announcing itself: its run script POSTs /nodes/register with the per-node token minted for
// its launch attempt, once vLLM answers /health. The node becomes 'warming' with its endpoint and models; the
// route then starts its NodeMonitor, which makes it 'ready' once /health passes.
import type { Db } from '../../db/client.ts'
import { ApiError } from '../../errors.ts'
import type { NodeRegistration } from '../../schemas/node-ops.ts'
import { digestMatches } from './node-credentials.ts'
import { findNodeByName, transitionNode, type LaunchedNode } from './node-launch-store.ts'

// One answer for every credential failure, so the endpoint does not reveal which cluster names exist.
const badToken = () => new ApiError('unauthorized', 'Invalid node registration token.', { code: 'invalid_registration_token' })

export async function registerLaunchedNode(db: Db, registration: NodeRegistration, presentedToken: string): Promise<LaunchedNode> {
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
  return result
}
