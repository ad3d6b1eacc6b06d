// Sends one admitted inference request to a node and returns the client's response: JSON passed through, or
// the SSE stream relayed event by event. Emits exactly one usage event per request that reached a node, off
// the response path (waitUntil), and aborts the node's work when the client goes away.
import { ApiError, errorResponse } from '../../errors.ts'
import type { InferenceRequest } from '../../schemas/openai.ts'
import { streamingOf, usageSchema, type Usage } from '../../schemas/openai.ts'
import type { UsageEvent } from '../../schemas/usage-event.ts'
import type { TenantIdentity } from '../keys/resolve-key.ts'
import type { RoutableNode } from '../nodes/node-directory.ts'
import { relaySse } from './sse-relay.ts'
import { trackInFlight } from './pick-node.ts'
import { upstreamErrorFromResponse } from './upstream-error.ts'

export type InferenceEndpoint = UsageEvent['endpoint']
const PATHS: Record<InferenceEndpoint, string> = {
  'chat.completions': '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
}

export type ForwardInput = {
  endpoint: InferenceEndpoint
  body: InferenceRequest
  node: RoutableNode
  identity: TenantIdentity
  requestId: string
  startedAt: number
  clientSignal: AbortSignal
  firstByteTimeoutMs: number
  idleTimeoutMs: number
  waitUntil: (promise: Promise<unknown>) => void
  recordUsage: (event: UsageEvent) => Promise<unknown>
}

export async function forwardInference(input: ForwardInput): Promise<Response> {
  const { body, node, clientSignal } = input
  const { stream: isStream, options: streamOptions } = streamingOf(body)
  const upstreamAbort = new AbortController()
  const onClientAbort = () => upstreamAbort.abort()
  clientSignal.addEventListener('abort', onClientAbort)
  const release = trackInFlight(node.id)
  const cleanup = () => { release(); clientSignal.removeEventListener('abort', onClientAbort) }

  const usageBase = { requestId: input.requestId, tenantId: input.identity.tenantId, keyId: input.identity.keyId, model: body.model, nodeId: node.id, endpoint: input.endpoint }
  const record = (fields: Pick<UsageEvent, 'promptTokens' | 'completionTokens' | 'outcome' | 'httpStatus' | 'usageSource' | 'ttftMs'>) =>
    input.recordUsage({ ...usageBase, ...fields, latencyMs: Math.round(performance.now() - input.startedAt), createdAt: Date.now() })

  let upstream: Response
  // The node is always asked for cumulative usage on every chunk, so a cut stream is still billable.
  const firstByteTimer = setTimeout(() => upstreamAbort.abort(new ApiError('upstream_timeout', 'The model node did not answer in time', { code: 'upstream_timeout' })), input.firstByteTimeoutMs)
  try {
    upstream = await fetch(node.endpoint + PATHS[input.endpoint], {
      method: 'POST',
      headers: upstreamHeaders(node, input.requestId),
      body: JSON.stringify(isStream ? { ...body, stream_options: { ...streamOptions, include_usage: true, continuous_usage_stats: true } } : body),
      signal: upstreamAbort.signal,
    })
  } catch {
    cleanup()
    const noTokens = { promptTokens: 0, completionTokens: 0, usageSource: 'gateway_count', ttftMs: null } as const
    if (clientSignal.aborted) { // the node had the request: it is recorded, with nothing generated
      input.waitUntil(record({ ...noTokens, outcome: 'client_aborted', httpStatus: 499 }))
      return new Response(null, { status: 499 })
    }
    const reason: unknown = upstreamAbort.signal.reason
    if (reason instanceof ApiError) {
      input.waitUntil(record({ ...noTokens, outcome: 'upstream_error', httpStatus: reason.status }))
      throw reason
    }
    throw new ApiError('bad_gateway', 'Could not reach the model node', { code: 'upstream_unreachable' })
  } finally {
    clearTimeout(firstByteTimer)
  }

  if (!upstream.ok) {
    const text = await upstream.text().catch(() => '')
    cleanup()
    const error = upstreamErrorFromResponse(upstream.status, text)
    input.waitUntil(record({ promptTokens: 0, completionTokens: 0, outcome: 'upstream_error', httpStatus: error.status, usageSource: 'node', ttftMs: null }))
    return errorResponse(error, input.requestId)
  }

  if (!isStream || !upstream.body) {
    const text = await upstream.text()
    cleanup()
    const usage = usageFromJson(text)
    input.waitUntil(record({
      promptTokens: usage?.prompt_tokens ?? 0, completionTokens: usage?.completion_tokens ?? 0, outcome: 'completed',
      httpStatus: 200, usageSource: usage ? 'node' : 'gateway_count', ttftMs: null,
    }))
    return new Response(text, { status: 200, headers: { 'content-type': 'application/json', 'x-request-id': input.requestId } })
  }

  const relay = relaySse(upstream.body, {
    clientWantsUsage: streamOptions?.include_usage === true,
    clientWantsContinuousUsage: streamOptions?.continuous_usage_stats === true,
    idleTimeoutMs: input.idleTimeoutMs,
    clientSignal,
    abortUpstream: () => upstreamAbort.abort(),
  })
  input.waitUntil(relay.done.then((s) => {
    cleanup()
    return record({
      promptTokens: s.usage?.prompt_tokens ?? 0,
      completionTokens: s.usage ? (s.usage.completion_tokens ?? 0) : s.countedCompletionTokens,
      outcome: s.outcome, httpStatus: 200, usageSource: s.usage ? 'node' : 'gateway_count',
      ttftMs: s.firstEventAt === null ? null : Math.round(s.firstEventAt - input.startedAt),
    })
  }))
  return new Response(relay.body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': input.requestId },
  })
}

function upstreamHeaders(node: RoutableNode, requestId: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId }
  if (node.apiKey) headers.authorization = `Bearer ${node.apiKey}`
  return headers
}

function usageFromJson(text: string): Usage | null {
  try {
    const parsed = usageSchema.safeParse((JSON.parse(text) as { usage?: unknown }).usage)
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}
