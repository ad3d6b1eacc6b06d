// The gateway's own token counting, in one place: the prompt estimate admission reserves on, and the count
// billed when a node reports no usage (UTF-8 bytes / 4 either way). Called by admission/estimate-reservation.ts,
// proxy/forward-inference.ts and proxy/sse-relay.ts.
import type { InferenceRequest, Usage } from '../../schemas/openai.ts'
import type { UsageEvent } from '../../schemas/usage-event.ts'
import type { InferenceEndpoint } from './upstream-body.ts'

/** UTF-8 length of a string without encoding it (the gateway's own token count runs on every generated piece). */
export function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4
      i++
    } // a surrogate pair: one 4-byte code point
    else bytes += 3
  }
  return bytes
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

/** What a node generated, as the gateway sees it: UTF-8 bytes of the text, and content-bearing pieces (stream deltas, choices). */
export type Generated = { textBytes: number; pieces: number }

/**
 * The tokens to bill: the node's usage when it reported one (with its prefix-cached prompt tokens); otherwise the gateway's own count
 * (usage_source 'gateway_count'): the prompt estimated as admission estimates it, the completion from the
 * generated text at admission's rate (UTF-8 bytes / 4), never fewer than one token per content piece.
 */
export function tokensOf(
  usage: Usage | null,
  endpoint: InferenceEndpoint,
  body: InferenceRequest,
  generated: Generated,
): Pick<UsageEvent, 'promptTokens' | 'completionTokens' | 'cachedPromptTokens' | 'usageSource'> {
  if (usage) {
    // Cached tokens are a part of the prompt: a node reporting more is clamped to it (the ledger clamps again).
    const cachedPromptTokens = Math.min(usage.prompt_tokens_details?.cached_tokens ?? 0, usage.prompt_tokens)
    return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens ?? 0, cachedPromptTokens, usageSource: 'node' }
  }
  const completionTokens = endpoint === 'embeddings' ? 0 : Math.max(generated.pieces, Math.ceil(generated.textBytes / 4))
  return { promptTokens: estimateRequestPrompt(body), completionTokens, usageSource: 'gateway_count' }
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0

/**
 * usageSchema.safeParse(value), by hand: the same checks (safe integers, not negative; completion and total
 * optional; a malformed prompt_tokens_details becomes null) and the same result (only the schema's keys), or null
 * where the schema refuses. zod's safeParse cost
 * about 30 µs per non-streamed answer in the gateway isolate's CPU profile (`npm run bench:profile`, 2026-12-05),
 * as much as parsing the answer; count-tokens.test.ts checks both agree.
 */
export function usageOf(value: unknown): Usage | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null
  const { prompt_tokens, completion_tokens, total_tokens } = value as Record<string, unknown>
  if (!isCount(prompt_tokens)) return null
  const usage: Usage = { prompt_tokens }
  if (completion_tokens !== undefined) {
    if (!isCount(completion_tokens)) return null
    usage.completion_tokens = completion_tokens
  }
  if (total_tokens !== undefined) {
    if (!isCount(total_tokens)) return null
    usage.total_tokens = total_tokens
  }
  const details = (value as Record<string, unknown>).prompt_tokens_details
  if (details !== undefined) usage.prompt_tokens_details = promptDetailsOf(details)
  return usage
}

/** usageSchema's `prompt_tokens_details`, by hand: any shape it does not accept becomes null (its `.catch(null)`). */
function promptDetailsOf(details: unknown): Usage['prompt_tokens_details'] {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return null
  const cached = (details as Record<string, unknown>).cached_tokens
  if (cached === undefined) return {}
  if (cached === null) return { cached_tokens: null }
  return isCount(cached) ? { cached_tokens: cached } : null
}

/**
 * A non-streamed answer's usage block (validated: it is what we bill) and the text it generated (counted only
 * when there is no valid usage: tokensOf bills the usage otherwise).
 */
export function parseAnswer(text: string): { usage: Usage | null; generated: Generated } {
  const generated: Generated = { textBytes: 0, pieces: 0 }
  let answer: { usage?: unknown; choices?: unknown }
  try {
    answer = JSON.parse(text) as { usage?: unknown; choices?: unknown }
  } catch {
    return { usage: null, generated }
  }
  const usage = usageOf(answer?.usage)
  if (usage) return { usage, generated }
  const choices = Array.isArray(answer?.choices) ? (answer.choices as Array<Record<string, unknown>>) : []
  for (const choice of choices) {
    const message = choice.message as { content?: unknown; tool_calls?: unknown } | undefined
    const calls = Array.isArray(message?.tool_calls) ? (message.tool_calls as Array<{ function?: { arguments?: unknown } }>) : []
    for (const piece of [message?.content, choice.text, ...calls.map((c) => c.function?.arguments)]) {
      if (typeof piece !== 'string' || piece === '') continue
      generated.pieces++
      generated.textBytes += utf8Length(piece)
    }
  }
  return { usage: null, generated }
}
