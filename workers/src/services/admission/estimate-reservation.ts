// The tokens to reserve for an inference request before it runs: a cheap, deterministic estimate of the
// prompt plus the completion allowance. Settle replaces the reservation by the node's real usage, so the
// estimate has to be cheap and bounded rather than exact. Called by routes/v1/inference.ts.
import type { Reservation } from '../../../../durable-objects/tenant-gate/admission-ledger.ts'
import { ApiError } from '../../errors.ts'
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

/** The prompt estimate of a request as admission makes it (also the gateway's count when a node reports no usage). */
export function estimateRequestPrompt(body: InferenceRequest): number {
  if ('messages' in body) return estimatePromptTokens(JSON.stringify(body.messages))
  if ('prompt' in body) return estimatePromptTokens(body.prompt)
  return estimatePromptTokens('input' in body ? body.input : null)
}

export function reservationFor(endpoint: InferenceEndpoint, body: InferenceRequest, config: ReservationConfig): Reservation {
  const promptTokens = Math.min(estimateRequestPrompt(body), config.maxContextTokens)
  if (endpoint === 'embeddings' || !('messages' in body || 'prompt' in body)) return { promptTokens, completionTokens: 0, isCompletionGuess: false }
  const generation = body as ChatCompletionRequest | CompletionRequest
  // max_completion_tokens supersedes max_tokens in OpenAI's API; vLLM honours both the same way.
  const asked = generation.max_completion_tokens ?? generation.max_tokens ?? null
  const perChoice = Math.min(asked ?? config.defaultMaxTokens, Math.max(1, config.maxContextTokens - promptTokens))
  return checked({ promptTokens, completionTokens: perChoice * sequencesOf(generation), isCompletionGuess: asked === null })
}

/**
 * The schema admits only finite integers, but the ledger must never see NaN or Infinity (one such reservation
 * once turned a tenant's token window into NaN and its TPM limit stopped holding): refused here as a bad request.
 */
function checked(r: Reservation): Reservation {
  for (const [field, value] of [['prompt', r.promptTokens], ['max_tokens', r.completionTokens]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new ApiError('invalid_request', `Invalid request: '${field}' gives no finite token count.`, { param: field, code: 'invalid_value' })
  }
  return r
}

/** Sequences vLLM generates for one request, each up to max_tokens: n choices (best_of can only be 1, see schemas/openai.ts). */
function sequencesOf(generation: ChatCompletionRequest | CompletionRequest): number {
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
