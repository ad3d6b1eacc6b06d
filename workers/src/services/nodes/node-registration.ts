// A launched node announcing itself: its run script POSTs /nodes/register with the per-node token minted for
// its launch attempt, once vLLM answers /health. The node becomes 'warming' with its endpoint and the model it
// was launched for; the route then starts its NodeMonitor, which makes it 'ready' once /health passes.
// Registration cannot redirect traffic: the endpoint must be the one the runner created for the attempt (its
// tunnel hostname, reported with the credentials) or it is a 403 naming `endpoint`; once an attempt registered
// (warming/ready), repeating it with the same endpoint is a no-op 200; and the models served are the launch
// spec's, not the node's claim. A leaked token therefore cannot point a model at another server.
import type { Db } from '../../db/client.ts'
import { ApiError } from '../../errors.ts'
import { log } from '../../log.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import type { NodeRegistration } from '../../schemas/node-ops.ts'
import { digestMatches } from './node-credentials.ts'
import { findNodeByName, transitionNode, type LaunchedNode } from './node-launch-store.ts'
import { normalizeEndpoint } from './runner-reports.ts'

// One answer for every credential failure, so the endpoint does not reveal which cluster names exist.
export const badRegistrationToken = () => new ApiError('unauthorized', 'Invalid node registration token.', { code: 'invalid_registration_token' })

/** The shape of every registration token minted (runner-reports.ts: randomSecret('cicreg_'), 256 bits base64url). */
export const REGISTER_TOKEN_FORMAT = /^cicreg_[A-Za-z0-9_-]{43}$/

/** Statuses in which this launch attempt has registered already (its endpoint is the one routed to). */
const REGISTERED = new Set(['warming', 'ready'])

const endpointRefused = (message: string, code: string) => new ApiError('forbidden', message, { code, param: 'endpoint' })

/**
 * `requireReportedEndpoint`: production-like environments refuse an attempt whose runner reported no endpoint;
 * dev and tests accept the first registration's (runners older than the node path, and tests that mint bare).
 */
export async function registerLaunchedNode(
  db: Db,
  registration: NodeRegistration,
  presentedToken: string,
  requestId: string | null = null,
  requireReportedEndpoint = true,
): Promise<LaunchedNode> {
  const found = await findNodeByName(db, registration.cluster_name)
  const hash = found?.launch?.registerTokenHash
  if (!found?.launch || !hash || !presentedToken || !(await digestMatches(presentedToken, hash))) throw badRegistrationToken()
  const endpoint = normalizeEndpoint(registration.endpoint)
  const expected = found.launch.endpoint
  if (expected !== null && endpoint !== expected) {
    throw endpointRefused(`Node '${registration.cluster_name}' must register the endpoint created for its launch, not another one.`, 'endpoint_not_allowed')
  }
  if (expected === null && requireReportedEndpoint) {
    throw endpointRefused(`No endpoint was reported for the launch of '${registration.cluster_name}'; it cannot register one itself.`, 'endpoint_not_reported')
  }
  if (REGISTERED.has(found.node.status)) {
    // A retried curl (its answer was lost) is answered as before; only the first endpoint of an attempt counts.
    if (found.node.endpoint === endpoint) return found
    throw new ApiError('conflict', `Node '${registration.cluster_name}' is already registered at another endpoint.`, {
      code: 'node_already_registered',
      param: 'endpoint',
    })
  }
  const model = found.launch.spec.model
  if (registration.models.some((m) => m !== model)) {
    log.warn('node_registration_models_ignored', { clusterName: registration.cluster_name, claimed: registration.models, launched: model })
  }
  const result = await transitionNode(db, registration.cluster_name, { type: 'registered' }, { endpoint, models: [model], lastError: null })
  if (!result) throw badRegistrationToken()
  if (!result.applied) {
    throw new ApiError('conflict', `Node '${registration.cluster_name}' is ${result.node.status} and cannot register.`, { code: 'node_not_registrable' })
  }
  await auditStatement(db, {
    actor: 'node',
    action: 'node.self_register',
    target: result.node.id,
    requestId: requestId ?? undefined,
    before: { status: result.from },
    after: { status: result.node.status, endpoint: result.node.endpoint, models: result.node.models },
  }).run()
  return result
}
