// The most a request could have used, and the clamp of the usage a node reports to it: a faulty (or hostile)
// node must not be able to bill a tenant for more than the request allowed it to generate. Also the least a
// request a node accepted is billed (no free prefill: its prompt). Called by forward-inference.ts on every usage
// event before it is recorded, and by inference/run-inference.ts (a budget's cap).
import type { BillCap } from '../../../../durable-objects/tenant-gate/contract.ts'
import type { ChatCompletionRequest, CompletionRequest, InferenceRequest } from '../../schemas/openai.ts'
import type { UsageEvent } from '../../schemas/usage-event.ts'
import { estimateRequestPrompt } from '../inference/count-tokens.ts'
import type { FailureKind } from './upstream-attempt.ts'

export type UsageBound = { promptTokens: number; completionTokens: number }

/** Prompts in one request: a batch of text completions or embeddings sends several, each in its own context. */
function promptsIn(value: unknown): number {
  if (!Array.isArray(value) || value.length === 0) return 1
  return typeof value[0] === 'number' ? 1 : value.length // token ids: one prompt; a list of strings or of id lists: several
}

/**
 * What the forwarded body allowed: each prompt fills at most one context (`maxContextTokens`, the largest
 * served: ADMISSION_MAX_CONTEXT_TOKENS), and each of its `n` sequences at most the forwarded completion allowance
 * (the gateway always sends one: capCompletion), itself within the context.
 */
export function usageBoundOf(endpoint: UsageEvent['endpoint'], body: InferenceRequest, maxContextTokens: number): UsageBound {
  if (endpoint === 'embeddings' || !('messages' in body || 'prompt' in body)) {
    return { promptTokens: maxContextTokens * promptsIn('input' in body ? body.input : null), completionTokens: 0 }
  }
  const generation = body as ChatCompletionRequest | CompletionRequest
  const prompts = 'prompt' in generation ? promptsIn(generation.prompt) : 1
  const allowances = [generation.max_tokens, generation.max_completion_tokens].filter((v): v is number => typeof v === 'number')
  const perSequence = Math.min(maxContextTokens, ...allowances)
  return { promptTokens: maxContextTokens * prompts, completionTokens: perSequence * Math.max(1, generation.n ?? 1) * prompts }
}

/** The tokens clamped to the bound, and whether anything was cut. */
export function clampUsage<T extends Pick<UsageEvent, 'promptTokens' | 'completionTokens'>>(tokens: T, bound: UsageBound): { tokens: T; isClamped: boolean } {
  if (tokens.promptTokens <= bound.promptTokens && tokens.completionTokens <= bound.completionTokens) return { tokens, isClamped: false }
  return {
    tokens: {
      ...tokens,
      promptTokens: Math.min(tokens.promptTokens, bound.promptTokens),
      completionTokens: Math.min(tokens.completionTokens, bound.completionTokens),
    },
    isClamped: true,
  }
}

/**
 * No free prefill: a request a node accepted and then lost (the client left before any output, the answer was
 * too large to relay, it ran past the request timeout) is billed its prompt, counted by the gateway as admission
 * counts it (usage_source gateway_count): the node's own count never arrives on these paths (a non-streamed
 * answer reports usage only at its end). Its completion is unknown and not billed.
 */
export function prefillOnly(body: InferenceRequest): Pick<UsageEvent, 'promptTokens' | 'completionTokens' | 'usageSource' | 'ttftMs'> {
  return { promptTokens: estimateRequestPrompt(body), completionTokens: 0, usageSource: 'gateway_count', ttftMs: null }
}

/**
 * Failures after which the node certainly worked on the prompt: it produced an answer too large to relay, or it
 * was still answering at the request timeout. A refused or lost connection, a first-byte timeout and the node's
 * own error status (502/503: it did no prefill) bill nothing.
 */
export const billsPrompt = (failure: FailureKind): boolean => failure === 'answer_too_large' || failure === 'request_timeout'

/**
 * Under a budget the usage billed never passes what admission held (see BillCap): the budget's hold is then an
 * upper bound of the charge by construction. Cut tokens are flagged like the context bound's (usageClamped).
 */
export function clampToBillCap(event: UsageEvent, cap: BillCap | null): UsageEvent {
  if (!cap) return event
  const { tokens, isClamped } = clampUsage(event, cap)
  return isClamped ? { ...tokens, usageClamped: true } : event
}
