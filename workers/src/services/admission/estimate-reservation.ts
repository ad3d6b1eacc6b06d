// The tokens to reserve for an inference request before it runs: a cheap, deterministic estimate of the
// prompt plus the completion allowance. Settle replaces the reservation by the node's real usage, so the
// estimate has to be cheap and bounded rather than exact. Called by inference/run-inference.ts.
import type { Reservation } from '../../../../durable-objects/tenant-gate/contract.ts'
import { ApiError } from '../../errors.ts'
import type { ChatCompletionRequest, CompletionRequest, InferenceRequest } from '../../schemas/openai.ts'
import { estimateRequestPrompt } from '../inference/count-tokens.ts'
import { sequencesOf, type InferenceEndpoint } from '../inference/upstream-body.ts'

export type ReservationConfig = {
  /** Completion allowance per choice when the client sets neither max_tokens nor max_completion_tokens. */
  defaultMaxTokens: number
  /** The largest context any served model has: no request can use more, whatever it asks for. */
  maxContextTokens: number
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
  for (const [field, value] of [
    ['prompt', r.promptTokens],
    ['max_tokens', r.completionTokens],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new ApiError('invalid_request', `Invalid request: '${field}' gives no finite token count.`, { param: field, code: 'invalid_value' })
  }
  return r
}
