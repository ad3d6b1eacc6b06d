// The body a node receives, shaped in one place: the completion allowance capped to the lease, refitted to a
// node's context after its 400, and (streams) the usage options the gateway bills on. Called by
// inference/run-inference.ts and proxy/forward-inference.ts.
import type { Reservation } from '../../../../durable-objects/tenant-gate/contract.ts'
import type { ChatCompletionRequest, CompletionRequest, InferenceRequest, StreamOptions } from '../../schemas/openai.ts'
import type { UsageEvent } from '../../schemas/usage-event.ts'

export type InferenceEndpoint = UsageEvent['endpoint']

/** The node's path for each endpoint (vLLM's OpenAI-compatible server). */
export const UPSTREAM_PATHS: Record<InferenceEndpoint, string> = {
  'chat.completions': '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
}

/** Sequences vLLM generates for one request, each up to max_tokens: n choices (best_of can only be 1, see schemas/openai.ts). */
export function sequencesOf(generation: ChatCompletionRequest | CompletionRequest): number {
  return Math.max(1, generation.n ?? 1)
}

/**
 * The body to forward, with its completion allowance capped to what admission really reserved: the node would
 * otherwise generate up to the context length when the client set no max_tokens (or more than was reserved,
 * after admission shrank a guess or the context bound cut it), and settle would charge past the tpm and the
 * budget. `reservedTokens` is the lease's hold (prompt estimate plus completion allowance). Chat keeps the
 * field(s) the client used (max_completion_tokens supersedes max_tokens; vLLM reads both); with none it gets
 * max_tokens, which every vLLM version honours. Text completions only know max_tokens.
 */
export function capCompletion<T extends InferenceRequest>(endpoint: InferenceEndpoint, body: T, reservation: Reservation, reservedTokens: number): T {
  if (endpoint === 'embeddings' || !('messages' in body || 'prompt' in body) || reservedTokens <= 0) return body
  const generation = body as ChatCompletionRequest | CompletionRequest
  const cap = Math.max(1, Math.floor((reservedTokens - reservation.promptTokens) / sequencesOf(generation)))
  const capped = (asked: number | null | undefined) => Math.min(asked ?? cap, cap)
  if (endpoint === 'completions') return { ...body, max_tokens: capped(generation.max_tokens) }
  const hasOwn = (v: number | null | undefined) => v !== null && v !== undefined
  if (!hasOwn(generation.max_tokens) && !hasOwn(generation.max_completion_tokens)) return { ...body, max_tokens: cap }
  return {
    ...body,
    ...(hasOwn(generation.max_completion_tokens) ? { max_completion_tokens: capped(generation.max_completion_tokens) } : {}),
    ...(hasOwn(generation.max_tokens) ? { max_tokens: capped(generation.max_tokens) } : {}),
  }
}

/**
 * `forwarded` (from capCompletion) lowered to fit a node's context: `room` completion tokens per sequence are
 * left after the prompt. Only the allowance the gateway set or lowered is changed (the client's own value that
 * does not fit is the client's error to hear); null when there is nothing the gateway can lower. vLLM refuses
 * prompt + max_tokens above the model's length, where it would have used the rest of the context itself had
 * no max_tokens been sent: this keeps such requests working with the cap.
 */
export function refitCompletion<T extends InferenceRequest>(original: T, forwarded: T, room: number): T | null {
  if (!('messages' in forwarded || 'prompt' in forwarded)) return null
  const before = original as ChatCompletionRequest | CompletionRequest
  const sent = forwarded as ChatCompletionRequest | CompletionRequest
  const changes: Partial<Record<'max_tokens' | 'max_completion_tokens', number>> = {}
  for (const field of ['max_tokens', 'max_completion_tokens'] as const) {
    const value = sent[field]
    if (typeof value === 'number' && value !== before[field] && value > room) changes[field] = room
  }
  return Object.keys(changes).length > 0 ? { ...forwarded, ...changes } : null
}

/**
 * `body` as one node gets it: `cache_salt` is the gateway's per-tenant salt (cache-salt.ts) for a vLLM node,
 * and absent for any other node and for embeddings (`salt` null). The client's own `cache_salt` never leaves
 * as sent: it is folded into the salt, or dropped.
 */
export function withCacheSalt(body: InferenceRequest, salt: string | null): InferenceRequest {
  if (salt === null && !('cache_salt' in body)) return body
  const { cache_salt: _client, ...rest } = body
  return salt === null ? rest : { ...rest, cache_salt: salt }
}

/** The wire body: a stream always asks the node for cumulative usage on every chunk, so a cut stream is still billable. */
export function serializeUpstream(body: InferenceRequest, isStream: boolean, streamOptions: StreamOptions | null): string {
  return JSON.stringify(isStream ? { ...body, stream_options: { ...streamOptions, include_usage: true, continuous_usage_stats: true } } : body)
}
