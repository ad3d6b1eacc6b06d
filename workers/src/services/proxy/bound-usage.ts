// The most a request could have used, and the clamp of the usage a node reports to it: a faulty (or hostile)
// node must not be able to bill a tenant for more than the request allowed it to generate. Called by
// forward-inference.ts on every usage event before it is recorded.
import type { ChatCompletionRequest, CompletionRequest, InferenceRequest } from '../../schemas/openai.ts'
import type { UsageEvent } from '../../schemas/usage-event.ts'

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
