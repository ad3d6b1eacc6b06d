// Owns one inference request from the route's parsed body to its response: price → reservation → admission →
// the upstream body → forward (routing, retries) → settle the lease exactly once. The forwarder calls back once,
// with the request's usage event (clamped to a budget's cap, priced, stamped with the start time; it settles
// the lease, feeds the metrics and goes to the ledger queue); every other ending settles 0. Called by
// routes/v1/inference.ts; takes no Hono Context.
import { costCeilMicroUsd } from '../../../../durable-objects/tenant-gate/contract.ts'
import { createDb } from '../../db/client.ts'
import { isProductionLike, type Config } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import type { InferenceRequest } from '../../schemas/openai.ts'
import type { UsageEvent } from '../../schemas/usage-event.ts'
import { withHeaders } from './with-headers.ts'
import { admitRequest } from '../admission/admit-request.ts'
import { reservationFor } from '../admission/estimate-reservation.ts'
import type { TenantIdentity } from '../keys/resolve-key.ts'
import { observeUsage } from '../metrics/record-metrics.ts'
import type { RequestTiming } from '../metrics/request-timing.ts'
import { forwardInference } from '../proxy/forward-inference.ts'
import { releaseProbe, reportOutcome } from '../proxy/routing-state.ts'
import { selectNode, type SelectContext } from '../proxy/select-node.ts'
import { priceAt } from '../billing/price-book.ts'
import { clampToBillCap } from '../proxy/bound-usage.ts'
import { sendUsage } from '../usage/send-usage.ts'
import { cacheSaltFor } from './cache-salt.ts'
import { capCompletion, refitCompletion, type InferenceEndpoint } from './upstream-body.ts'

export type InferenceCall = {
  endpoint: InferenceEndpoint
  /** The validated client body. */
  body: InferenceRequest
  identity: TenantIdentity
  requestId: string
  /** performance.now() when the request arrived. */
  startedAt: number
  clientSignal: AbortSignal
  /** `x-session-id` header, when the client sent one (else the body's `user` is used). */
  sessionId: string | null
  waitUntil: (promise: Promise<unknown>) => void
  timing: RequestTiming
}

/** Metrics older than this many health intervals are ignored for routing (the node may have stopped reporting). */
const LOAD_MAX_AGE_INTERVALS = 3

export async function runInference(env: Env, config: Config, call: InferenceCall): Promise<Response> {
  const { endpoint, body, identity } = call
  // The price in force when the request starts is the one it is billed at (the ledger picks the same version
  // from model_prices by startedAt); a model without one is refused here in production-like environments.
  const startedAtWall = Date.now()
  const db = createDb(env.DB)
  const price = await priceAt(db, body.model, startedAtWall, isProductionLike(config))
  const reservation = reservationFor(
    endpoint,
    body,
    { defaultMaxTokens: config.ADMISSION_DEFAULT_MAX_TOKENS, maxContextTokens: config.ADMISSION_MAX_CONTEXT_TOKENS },
    price,
  )
  const admission = await admitRequest(env, identity, { reservation, leaseTtlMs: config.ADMISSION_LEASE_TTL_MS, waitUntil: call.waitUntil })
  // The usage event of a request that reached a node settles the lease with its real tokens and their cost; any
  // other ending settles 0. Only the first settle counts, so the fallbacks below never undo a real one.
  const settleLease = (usedTokens: number, usedMicroUsd = 0) => call.waitUntil(admission.settle(usedTokens, usedMicroUsd))
  // The node may generate only what the lease holds: its completion allowance is capped to the reservation.
  const forwarded = capCompletion(endpoint, body, reservation, admission.reservedTokens)
  // One HMAC (the key is derived once per isolate); vLLM nodes get it per attempt (forward-inference.ts).
  const clientSalt = 'cache_salt' in body && typeof body.cache_salt === 'string' ? body.cache_salt : null
  const cacheSalt = endpoint === 'embeddings' ? null : await cacheSaltFor(config.SECRETS_KEY, identity.tenantId, clientSalt)
  const routing: SelectContext = {
    env,
    waitUntil: call.waitUntil,
    db,
    secretsKey: config.SECRETS_KEY,
    maxLoadAgeMs: LOAD_MAX_AGE_INTERVALS * config.NODE_HEALTH_INTERVAL_MS,
  }
  const session = call.sessionId ?? ('user' in body && typeof body.user === 'string' && body.user !== '' ? body.user : null)
  // Scoped to the tenant: two tenants' "user-1" are different sessions.
  const affinityKey = session === null ? null : `${identity.tenantId}:${session}`
  try {
    const res = await forwardInference({
      endpoint,
      body: forwarded,
      identity,
      requestId: call.requestId,
      startedAt: call.startedAt,
      clientSignal: call.clientSignal,
      timeouts: {
        connectMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
        firstByteMs: config.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
        idleMs: config.UPSTREAM_IDLE_TIMEOUT_MS,
        requestMs: config.UPSTREAM_REQUEST_TIMEOUT_MS,
      },
      retry: { maxRetries: config.UPSTREAM_MAX_RETRIES, backoffMs: config.UPSTREAM_RETRY_BACKOFF_MS, deadlineMs: config.UPSTREAM_RETRY_DEADLINE_MS },
      selectNode: ({ avoid, exclude }) => selectNode(routing, { model: body.model, affinityKey, avoid, exclude }),
      reportOutcome: (nodeId, outcome) => reportOutcome(routing, nodeId, outcome),
      releaseProbe: (nodeId) => releaseProbe(routing, nodeId),
      waitUntil: call.waitUntil,
      timing: call.timing,
      maxContextTokens: config.ADMISSION_MAX_CONTEXT_TOKENS,
      refitCompletion: (room) => refitCompletion(body, forwarded, room),
      cacheSalt,
      recordUsage: (reported: UsageEvent) => {
        // Under a budget nothing past what admission held is billed (the hold is then a true upper bound).
        const event: UsageEvent = { ...clampToBillCap(reported, admission.billCap), startedAt: startedAtWall }
        settleLease(event.promptTokens + event.completionTokens, costCeilMicroUsd(event.promptTokens, event.completionTokens, price))
        observeUsage(event)
        return sendUsage(env, event)
      },
    })
    // A client that went away (499) before any node had the request records no usage: nothing to wait for.
    if (res.status !== 200) settleLease(0)
    return withHeaders(res, admission.headers)
  } catch (err) {
    settleLease(0)
    // Routing or every attempt failed after admission (404 no such model, 503 no node, 502/504 from nodes): the
    // client still counts against its limits, so the answer carries the same x-ratelimit-* headers as any
    // admitted response. The error's own headers (retry-after) win.
    if (err instanceof ApiError) throw new ApiError(err.kind, err.message, { ...err.extra, headers: { ...admission.headers, ...err.extra.headers } })
    throw err
  }
}
