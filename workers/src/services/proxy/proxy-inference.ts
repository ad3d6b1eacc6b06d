// Wires one admitted inference request to the router and the forwarder: node selection over the isolate's
// node directory and cached monitor snapshots, outcome reports to each node's breaker, usage to the queue.
// Called by routes/v1/inference.ts.
import { createDb } from '../../db/client.ts'
import type { Config } from '../../env.ts'
import type { UsageEvent } from '../../schemas/usage-event.ts'
import { observeUsage } from '../metrics/record-metrics.ts'
import { sendUsage } from '../usage/send-usage.ts'
import { forwardInference, type ForwardInput } from './forward-inference.ts'
import { releaseProbe, reportOutcome } from './routing-state.ts'
import { selectNode, type SelectContext } from './select-node.ts'

export type ProxyRequest = Pick<ForwardInput, 'endpoint' | 'body' | 'identity' | 'requestId' | 'startedAt' | 'clientSignal' | 'waitUntil' | 'timing' | 'refitCompletion'> & {
  /** `x-session-id` header, when the client sent one (else the body's `user` is used). */
  sessionId: string | null
  /** Called with the request's one usage event as it is sent to the ledger (admission settles its lease with it). */
  onUsage: (event: UsageEvent) => void
}

/** Metrics older than this many health intervals are ignored for routing (the node may have stopped reporting). */
const LOAD_MAX_AGE_INTERVALS = 3

export function proxyInference(env: Env, config: Config, req: ProxyRequest): Promise<Response> {
  const routing: SelectContext = {
    env, waitUntil: req.waitUntil, db: createDb(env.DB), secretsKey: config.SECRETS_KEY,
    maxLoadAgeMs: LOAD_MAX_AGE_INTERVALS * config.NODE_HEALTH_INTERVAL_MS,
  }
  const session = req.sessionId ?? ('user' in req.body && typeof req.body.user === 'string' && req.body.user !== '' ? req.body.user : null)
  // Scoped to the tenant: two tenants' "user-1" are different sessions.
  const affinityKey = session === null ? null : `${req.identity.tenantId}:${session}`
  return forwardInference({
    endpoint: req.endpoint, body: req.body, identity: req.identity, requestId: req.requestId, startedAt: req.startedAt,
    clientSignal: req.clientSignal,
    timeouts: {
      connectMs: config.UPSTREAM_CONNECT_TIMEOUT_MS, firstByteMs: config.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
      idleMs: config.UPSTREAM_IDLE_TIMEOUT_MS, requestMs: config.UPSTREAM_REQUEST_TIMEOUT_MS,
    },
    retry: { maxRetries: config.UPSTREAM_MAX_RETRIES, backoffMs: config.UPSTREAM_RETRY_BACKOFF_MS, deadlineMs: config.UPSTREAM_RETRY_DEADLINE_MS },
    selectNode: ({ avoid, exclude }) => selectNode(routing, { model: req.body.model, affinityKey, avoid, exclude }),
    reportOutcome: (nodeId, outcome) => reportOutcome(routing, nodeId, outcome),
    releaseProbe: (nodeId) => releaseProbe(routing, nodeId),
    waitUntil: req.waitUntil, timing: req.timing, refitCompletion: req.refitCompletion, maxContextTokens: config.ADMISSION_MAX_CONTEXT_TOKENS,
    recordUsage: (event) => {
      req.onUsage(event)
      observeUsage(event)
      return sendUsage(env, event)
    },
  })
}
