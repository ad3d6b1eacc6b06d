// The tokens to reserve for an inference request before it runs: a cheap, deterministic estimate of the
// prompt plus the completion allowance. Settle replaces the reservation by the node's real usage, so the
// estimate has to be cheap and bounded rather than exact. Called by routes/v1/inference.ts.
import type { Reservation } from '../../../../durable-objects/tenant-gate/admission-ledger.ts'
import type { ChatCompletionRequest, CompletionRequest, InferenceRequest } from '../../schemas/openai.ts'
import type { InferenceEndpoint } from '../proxy/forward-inference.ts'

export type ReservationConfig = {
  /** Completion allowance per choice when the client sets neither max_tokens nor max_completion_tokens. */
  defaultMaxTokens: number
  /** The largest context any served model has: no request can use more, whatever it asks for. */
  maxContextTokens: number
}

/**
 * Prompt estimate: one token per 4 bytes of UTF-8 (OpenAI's rule of thumb for English; counting bytes, not
 * characters, keeps CJK text from being underestimated), rounded up; token-id prompts count one per id.
 * For chat, the JSON of the messages is measured, so roles and structure count a little too.
 */
export function estimatePromptTokens(prompt: unknown): number {
  if (typeof prompt === 'string') return Math.ceil(utf8Length(prompt) / 4)
  if (typeof prompt === 'number') return 1
  if (Array.isArray(prompt)) return prompt.reduce<number>((sum, part) => sum + estimatePromptTokens(part), 0)
  return prompt === null || prompt === undefined ? 0 : Math.ceil(utf8Length(JSON.stringify(prompt)) / 4)
}

export function reservationFor(endpoint: InferenceEndpoint, body: InferenceRequest, config: ReservationConfig): Reservation {
  const bound = (tokens: number) => Math.min(tokens, config.maxContextTokens)
  if (endpoint === 'embeddings' || !('messages' in body || 'prompt' in body)) {
    return { promptTokens: bound(estimatePromptTokens('input' in body ? body.input : null)), completionTokens: 0, isCompletionGuess: false }
  }
  const generation = body as ChatCompletionRequest | CompletionRequest
  const promptTokens = bound('messages' in generation ? estimatePromptTokens(JSON.stringify(generation.messages)) : estimatePromptTokens(generation.prompt))
  // max_completion_tokens supersedes max_tokens in OpenAI's API; vLLM honours both the same way.
  const asked = generation.max_completion_tokens ?? generation.max_tokens ?? null
  const perChoice = Math.min(asked ?? config.defaultMaxTokens, Math.max(1, config.maxContextTokens - promptTokens))
  const bestOf = typeof generation.best_of === 'number' ? generation.best_of : 1 // vLLM generates best_of sequences
  const choices = Math.max(1, generation.n ?? 1, bestOf)
  return { promptTokens, completionTokens: perChoice * choices, isCompletionGuess: asked === null }
}

function utf8Length(s: string): number {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff) { bytes += 4; i++ } // surrogate pair: one 4-byte code point
    else bytes += 3
  }
  return bytes
}
