// The tokens to reserve for an inference request before it runs: a cheap, deterministic estimate of the
// prompt plus the completion allowance. Settle replaces the reservation by the node's real usage, so the
// estimate has to be cheap and bounded rather than exact. Budgets hold a provable bound of the prompt instead
// (promptBoundOf), and the model's price for a money budget. Called by inference/run-inference.ts.
import type { Reservation, TokenPrice } from '../../../../durable-objects/tenant-gate/contract.ts'
import { ApiError } from '../../errors.ts'
import type { ChatCompletionRequest, CompletionRequest, InferenceRequest } from '../../schemas/openai.ts'
import { estimateRequestPrompt, utf8Length } from '../inference/count-tokens.ts'
import { sequencesOf, type InferenceEndpoint } from '../inference/upstream-body.ts'

export type ReservationConfig = {
  /** Completion allowance per choice when the client sets neither max_tokens nor max_completion_tokens. */
  defaultMaxTokens: number
  /** The largest context any served model has: no request can use more, whatever it asks for. */
  maxContextTokens: number
}

/**
 * The reservation; `price` (the model's price in force now, or null) travels with it for a money budget, and
 * `promptBound` for any budget (the object holds it instead of the estimate when a budget applies).
 */
export function reservationFor(endpoint: InferenceEndpoint, body: InferenceRequest, config: ReservationConfig, price?: TokenPrice | null): Reservation {
  const money = { promptBound: promptBoundOf(body, config.maxContextTokens), ...(price ? { price } : {}) }
  const promptTokens = Math.min(estimateRequestPrompt(body), config.maxContextTokens)
  if (endpoint === 'embeddings' || !('messages' in body || 'prompt' in body)) return { promptTokens, completionTokens: 0, isCompletionGuess: false, ...money }
  const generation = body as ChatCompletionRequest | CompletionRequest
  // max_completion_tokens supersedes max_tokens in OpenAI's API; vLLM honours both the same way.
  const asked = generation.max_completion_tokens ?? generation.max_tokens ?? null
  const perChoice = Math.min(asked ?? config.defaultMaxTokens, Math.max(1, config.maxContextTokens - promptTokens))
  return checked({ promptTokens, completionTokens: perChoice * sequencesOf(generation), isCompletionGuess: asked === null, ...money })
}

/**
 * Template tokens a chat template or tokenizer may add that are not in the request's bytes (special tokens, a
 * default system prompt such as Qwen's, Llama 3.1's date header, a tool-use preamble): per prompt.
 */
export const TEMPLATE_TOKENS_BOUND = 1024
/**
 * Tokens one image, audio or video part may become at most. An assumption about the nodes, not a fact the
 * gateway can check: a vision model must be served with its pixels capped (vLLM `--mm-processor-kwargs`
 * `{"max_pixels": …}`) so no image passes this. A node reporting more is billed the bound (see run-inference.ts).
 */
export const MEDIA_TOKENS_BOUND = 16_384

/**
 * A prompt size the request cannot pass: one token per UTF-8 byte of its text (a byte-level BPE or a
 * byte-fallback SentencePiece token covers at least one byte; JSON's quoting only adds bytes), plus
 * TEMPLATE_TOKENS_BOUND per prompt and MEDIA_TOKENS_BOUND per media part; token-id prompts count one per id.
 * Never more than a context per prompt (billing never charges more: proxy/bound-usage.ts).
 */
export function promptBoundOf(body: InferenceRequest, maxContextTokens: number): number {
  if ('messages' in body) {
    const { messages, ...rest } = body as ChatCompletionRequest
    const extras = ['tools', 'functions', 'tool_choice', 'response_format', 'chat_template_kwargs'].map((k) => (rest as Record<string, unknown>)[k])
    const bytes = utf8Length(JSON.stringify(messages)) + utf8Length(JSON.stringify(extras))
    return Math.min(bytes + TEMPLATE_TOKENS_BOUND + mediaParts(messages) * MEDIA_TOKENS_BOUND, maxContextTokens)
  }
  const prompt: unknown = 'prompt' in body ? body.prompt : 'input' in body ? body.input : null
  const prompts = Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] !== 'number' ? prompt : [prompt]
  return prompts.reduce<number>((sum, p) => sum + Math.min(boundOfOne(p), maxContextTokens), 0)
}

function boundOfOne(prompt: unknown): number {
  if (Array.isArray(prompt) && prompt.every((t) => typeof t === 'number')) return prompt.length + TEMPLATE_TOKENS_BOUND
  const text = typeof prompt === 'string' ? prompt : JSON.stringify(prompt ?? '')
  return utf8Length(text) + TEMPLATE_TOKENS_BOUND
}

/** Content parts that are not text (image_url, input_audio, video_url, …) in chat messages. */
function mediaParts(messages: unknown): number {
  if (!Array.isArray(messages)) return 0
  let parts = 0
  for (const m of messages) {
    const content = (m as { content?: unknown } | null)?.content
    if (!Array.isArray(content)) continue
    for (const part of content) {
      const type = (part as { type?: unknown } | null)?.type
      if (typeof type === 'string' && type !== 'text') parts++
    }
  }
  return parts
}

/**
 * The schema admits only finite integers, but the ledger must never see NaN or Infinity (one such reservation
 * once turned a tenant's token window into NaN and its TPM limit stopped holding): refused here as a bad request.
 */
function checked(r: Reservation): Reservation {
  for (const [field, value] of [
    ['prompt', r.promptTokens],
    ['max_tokens', r.completionTokens],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new ApiError('invalid_request', `Invalid request: '${field}' gives no finite token count.`, { param: field, code: 'invalid_value' })
  }
  return r
}
