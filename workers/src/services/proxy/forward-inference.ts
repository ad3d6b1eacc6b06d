// Sends one admitted inference request to the best node and returns the client's response: JSON passed
// through, or the SSE stream relayed event by event. A failure before the first byte reaches the client is
// retried on another node (backoff 1 s, 2 s, 4 s by default, within a total deadline); a node's 500 is retried
// once only, at once, on another node (never the same one); a stream that has started is never replayed: it
// ends with an error event. Each attempt's outcome goes to the node's breaker.
// A request that fails throws its ApiError (errors.ts shapes it); called by inference/run-inference.ts.
//
// Usage: exactly ONE event per client request (the ledger is keyed by request id), off the response path:
// the serving node's tokens when an attempt succeeded; otherwise, if any attempt reached a node, the final
// outcome with zero tokens, naming the last node that received the request. Failed attempts bill nothing.
import type { ApiError } from '../../errors.ts'
import type { InferenceRequest, StreamOptions } from '../../schemas/openai.ts'
import { streamingOf } from '../../schemas/openai.ts'
import type { UsageEvent } from '../../schemas/usage-event.ts'
import type { Outcome } from '../../../../durable-objects/node-monitor/contract.ts'
import { parseAnswer, tokensOf } from '../inference/count-tokens.ts'
import { serializeUpstream, UPSTREAM_PATHS, withCacheSalt, type InferenceEndpoint } from '../inference/upstream-body.ts'
import type { TenantIdentity } from '../keys/resolve-key.ts'
import { countUpstreamError, httpErrorKind } from '../metrics/record-metrics.ts'
import type { RequestTiming } from '../metrics/request-timing.ts'
import type { RoutableNode } from '../nodes/node-directory.ts'
import type { NodeEngine } from '../../schemas/node-ops.ts'
import { log } from '../../log.ts'
import { nodeAccessHeaders } from '../../platform/node-access.ts'
import { billsPrompt, clampUsage, prefillOnly, usageBoundOf } from './bound-usage.ts'
import { holdNodeSlot } from './pick-node.ts'
import type { Selection } from './select-node.ts'
import { relaySse } from './sse-relay.ts'
import { attemptUpstream, classifyFailure, type AttemptResult } from './upstream-attempt.ts'
import { contextRoomOf } from './upstream-error.ts'

export type ForwardInput = {
  endpoint: InferenceEndpoint
  body: InferenceRequest
  identity: TenantIdentity
  requestId: string
  /** performance.now() when the request arrived. */
  startedAt: number
  clientSignal: AbortSignal
  /** `requestMs`: a non-streamed answer's total time (not bounded by the retry deadline, which covers retries). */
  timeouts: { connectMs: number; firstByteMs: number; idleMs: number; requestMs: number }
  retry: { maxRetries: number; backoffMs: number; deadlineMs: number }
  selectNode: (tried: { avoid: ReadonlySet<string>; exclude: ReadonlySet<string> }) => Promise<Selection>
  reportOutcome: (nodeId: string, outcome: Outcome) => void
  /** A probe attempt ended without telling anything about the node (its client went away). */
  releaseProbe: (nodeId: string) => void
  waitUntil: (promise: Promise<unknown>) => void
  /**
   * The request's one end-of-request call: called exactly once with its usage event when any node received the
   * request (never for a request that reached none); the promise goes to waitUntil.
   */
  recordUsage: (event: UsageEvent) => Promise<unknown>
  /** The largest context of any served model (ADMISSION_MAX_CONTEXT_TOKENS): bounds the usage a node may report. */
  maxContextTokens: number
  /** Where the time spent waiting on nodes is counted (gateway overhead = the rest). */
  timing: RequestTiming
  /**
   * The body with the completion allowance the gateway set lowered to `room` tokens per sequence, after a node
   * refused it for its context length; null when the allowance is the client's own (see refitCompletion).
   */
  refitCompletion?: (room: number) => InferenceRequest | null
  /** The tenant's prefix-cache salt (inference/cache-salt.ts), sent to vLLM nodes only; null for embeddings. */
  cacheSalt: string | null
}

type UsageFields = Pick<UsageEvent, 'promptTokens' | 'completionTokens' | 'cachedPromptTokens' | 'outcome' | 'httpStatus' | 'usageSource' | 'ttftMs'>
const NO_TOKENS = { promptTokens: 0, completionTokens: 0, ttftMs: null } as const

function recorder(input: ForwardInput) {
  return (node: RoutableNode, reported: UsageFields) => {
    // Never more than the request could have used: a node reporting past it is clamped, flagged and logged.
    const bound = usageBoundOf(input.endpoint, input.body, input.maxContextTokens)
    const { tokens: clamped, isClamped } = clampUsage(reported, bound)
    // Cached tokens stay a part of the (possibly cut) prompt; the ledger clamps again whatever the path.
    const fields = { ...clamped, cachedPromptTokens: Math.min(clamped.cachedPromptTokens ?? 0, clamped.promptTokens) }
    if (isClamped) {
      log.warn('usage_clamped', {
        node_id: node.id,
        model: input.body.model,
        usage_source: reported.usageSource,
        reported: { prompt_tokens: reported.promptTokens, completion_tokens: reported.completionTokens },
        bound: { prompt_tokens: bound.promptTokens, completion_tokens: bound.completionTokens },
      })
    }
    input.waitUntil(
      input.recordUsage({
        requestId: input.requestId,
        tenantId: input.identity.tenantId,
        keyId: input.identity.keyId,
        model: input.body.model,
        nodeId: node.id,
        endpoint: input.endpoint,
        ...fields,
        ...(isClamped ? { usageClamped: true } : {}),
        latencyMs: Math.round(performance.now() - input.startedAt),
        createdAt: Date.now(),
      }),
    )
  }
}

/** Resolves true after `ms`, or false as soon as the client goes away. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false)
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * The client's response: 200 JSON or SSE, or 499 (the client went away; no one reads it). Throws the ApiError
 * the client hears when no node served the request.
 */
export async function forwardInference(input: ForwardInput): Promise<Response> {
  const { stream: isStream, options: streamOptions } = streamingOf(input.body)
  // The node is chosen per attempt and only vLLM nodes get the salt: the wire body is serialized at most once
  // per engine (and again after a refit), not once per attempt.
  let body = input.body
  let payloads = new Map<NodeEngine, string>()
  const payloadFor = (node: RoutableNode): string => {
    let payload = payloads.get(node.engine)
    if (payload === undefined) {
      payload = serializeUpstream(withCacheSalt(body, node.engine === 'vllm' ? input.cacheSalt : null), isStream, streamOptions)
      payloads.set(node.engine, payload)
    }
    return payload
  }
  let isRefitted = false
  const record = recorder(input)
  const deadline = performance.now() + input.retry.deadlineMs
  const avoid = new Set<string>()
  const exclude = new Set<string>()
  /** The last node that received the request, and the last failure (what the client hears if we give up). */
  let reached: RoutableNode | null = null
  let failure: { error: ApiError; fromNode: boolean } | null = null
  /** A node answered 500: the attempt under way is the request's last (see classifyFailure's isLastChance). */
  let isLastChance = false
  /** Records the last failure against the last node reached, and returns the error to throw. */
  const giveUp = (last: { error: ApiError; fromNode: boolean; isPrefilled?: boolean }): ApiError => {
    const tokens = last.isPrefilled ? prefillOnly(input.body) : { ...NO_TOKENS, usageSource: last.fromNode ? ('node' as const) : ('gateway_count' as const) }
    if (reached) record(reached, { ...tokens, outcome: 'upstream_error', httpStatus: last.error.status })
    return last.error
  }
  /** `isPrefilled`: the client left while the node had the request (no free prefill: its prompt is billed). */
  const clientGone = (node: RoutableNode | null, isPrefilled = false): Response => {
    const tokens = isPrefilled ? prefillOnly(input.body) : { ...NO_TOKENS, usageSource: 'gateway_count' as const }
    if (node) record(node, { ...tokens, outcome: 'client_aborted', httpStatus: 499 })
    return new Response(null, { status: 499 })
  }

  for (let attempt = 0; ; attempt++) {
    let selection: Selection
    try {
      selection = await input.selectNode({ avoid, exclude })
    } catch (err) {
      if (failure) throw giveUp(failure) // nothing left to retry on: the client hears about the real failure
      throw err
    }
    const { node, isProbe } = selection
    avoid.add(node.id)
    const remaining = Math.max(1, deadline - performance.now())
    const release = holdNodeSlot(node.id)
    const result = await input.timing.upstream(
      attemptUpstream({
        url: node.endpoint + UPSTREAM_PATHS[input.endpoint],
        headers: upstreamHeaders(node, input.requestId),
        body: payloadFor(node),
        isStream,
        clientSignal: input.clientSignal,
        connectTimeoutMs: Math.min(input.timeouts.connectMs, remaining),
        firstByteTimeoutMs: Math.min(input.timeouts.firstByteMs, remaining),
        requestTimeoutMs: input.timeouts.requestMs,
      }),
    )
    if (result.kind === 'stream') return relayStream(input, node, isProbe, result, release, streamOptions, record)
    release()
    if (result.kind === 'json') {
      input.reportOutcome(node.id, { ok: true, isProbe })
      const answer = parseAnswer(result.text)
      record(node, { ...tokensOf(answer.usage, input.endpoint, input.body, answer.generated), outcome: 'completed', httpStatus: 200, ttftMs: null })
      return new Response(result.text, { status: 200, headers: { 'content-type': 'application/json' } }) // x-request-id: middleware/request-id.ts
    }
    if (result.kind === 'client_aborted') {
      if (isProbe) input.releaseProbe(node.id)
      return clientGone(node, true) // the node had the request: its prompt is billed (no free prefill)
    }

    const refitted = isRefitted ? null : refitAfter(result, input)
    if (refitted) {
      // our cap, not the client, overflowed the model's context: sent again, once, fitted
      input.reportOutcome(node.id, { ok: true, isProbe }) // it answered: it works
      avoid.delete(node.id) // the same node may take it: its context is the one we now fit
      body = refitted
      payloads = new Map()
      isRefitted = true
      continue
    }
    const verdict = classifyFailure(result, isProbe)
    countUpstreamError(node.id, result.kind === 'node_error' ? httpErrorKind(result.status) : result.failure)
    if (verdict.isNodeFault) input.reportOutcome(node.id, { ok: false, isProbe, error: verdict.error.message })
    else if (result.kind === 'node_error')
      input.reportOutcome(node.id, { ok: true, isProbe }) // it answered: it works
    else if (isProbe) input.releaseProbe(node.id) // a slow answer says nothing either way about the node's health
    const current = { error: verdict.error, fromNode: result.kind === 'node_error', isPrefilled: result.kind === 'failed' && billsPrompt(result.failure) }
    failure = current
    if (verdict.reachedNode) reached = node
    if (!verdict.mayRetrySameNode) exclude.add(node.id)
    if (!verdict.isRetryable || isLastChance || attempt >= input.retry.maxRetries) throw giveUp(current)
    if (verdict.isLastChance) {
      // One more attempt, on another node, now: waiting helps a node recover, and this one is not asked again.
      isLastChance = true
      if (performance.now() >= deadline) throw giveUp(current)
      continue
    }
    const waitMs = input.retry.backoffMs * 2 ** attempt
    if (performance.now() + waitMs >= deadline) throw giveUp(current)
    if (!(await sleep(waitMs, input.clientSignal))) return clientGone(reached)
  }
}

/** The request fitted to the node's context after its context-length 400, when the gateway's cap caused it. */
function refitAfter(result: Extract<AttemptResult, { kind: 'node_error' | 'failed' }>, input: ForwardInput): InferenceRequest | null {
  if (result.kind !== 'node_error' || result.status !== 400 || !input.refitCompletion) return null
  const room = contextRoomOf(result.text)
  return room === null ? null : input.refitCompletion(room)
}

function relayStream(
  input: ForwardInput,
  node: RoutableNode,
  isProbe: boolean,
  result: Extract<AttemptResult, { kind: 'stream' }>,
  release: () => void,
  streamOptions: StreamOptions | null,
  record: ReturnType<typeof recorder>,
): Response {
  // A probe proves the node answers as soon as its first byte arrives: the breaker can close now, not when
  // a long stream ends. A later break then counts like any other request's.
  if (isProbe) input.reportOutcome(node.id, { ok: true, isProbe: true })
  const relay = relaySse(result.body, {
    clientWantsUsage: streamOptions?.include_usage === true,
    clientWantsContinuousUsage: streamOptions?.continuous_usage_stats === true,
    idleTimeoutMs: input.timeouts.idleMs,
    clientSignal: input.clientSignal,
    abortUpstream: result.abortUpstream,
  })
  input.timing.streamUntil(relay.done)
  input.waitUntil(
    relay.done.then((s) => {
      release()
      result.detach()
      const isBroken = s.outcome === 'upstream_broken'
      if (isBroken) countUpstreamError(node.id, 'stream_broken')
      if (isBroken) input.reportOutcome(node.id, { ok: false, isProbe: false, error: 'the stream broke mid-way' })
      else if (!isProbe) input.reportOutcome(node.id, { ok: true, isProbe: false })
      record(node, {
        ...tokensOf(s.usage, input.endpoint, input.body, { textBytes: s.countedTextBytes, pieces: s.countedCompletionTokens }),
        outcome: s.outcome,
        httpStatus: 200,
        ttftMs: s.firstEventAt === null ? null : Math.round(s.firstEventAt - input.startedAt),
      })
    }),
  )
  return new Response(relay.body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' }, // x-request-id: middleware/request-id.ts
  })
}

function upstreamHeaders(node: RoutableNode, requestId: string): Record<string, string> {
  const headers: Record<string, string> = { ...nodeAccessHeaders(node.endpoint), 'content-type': 'application/json', 'x-request-id': requestId }
  if (node.apiKey) headers.authorization = `Bearer ${node.apiKey}`
  return headers
}
