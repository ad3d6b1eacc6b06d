// The parts of OpenAI request/response bodies the gateway reads. Forwarded bodies are loose objects: any field
// we do not know (tools, response_format, vLLM extras) passes through to the node untouched.
import { z } from 'zod'

const streamOptionsSchema = z.looseObject({
  include_usage: z.boolean().optional(),
  continuous_usage_stats: z.boolean().optional(), // vLLM extension
})

/**
 * A token count admission and billing compute with: a safe integer (zod 4's int(); JSON's 1e309 parses to
 * Infinity, which number() refuses), at least 1, and no more than any context could hold.
 */
const tokenCount = () => z.number().int().min(1).max(MAX_TOKEN_FIELD)
/** Upper bound of max_tokens-like fields: 2^31 - 1, the largest a vLLM sampling parameter takes (a C int). */
export const MAX_TOKEN_FIELD = 2 ** 31 - 1

const generationFields = {
  model: z.string().min(1, 'model is required'),
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema.nullish(),
  max_tokens: tokenCount().nullish(),
  max_completion_tokens: tokenCount().nullish(),
  n: z.number().int().positive().max(128).nullish(),
  // vLLM's V1 engine refuses any other value; admission multiplies by it (Infinity would break the TPM window).
  best_of: z.literal(1, { error: 'best_of must be 1 (the only value vLLM supports)' }).nullish(),
  min_tokens: z.number().int().min(0).max(MAX_TOKEN_FIELD).nullish(), // vLLM extension: a floor on what is generated
  user: z.string().max(256).optional(),
  // vLLM extension: salts the node's prefix cache. Never forwarded as sent: the gateway folds it into its own
  // per-tenant salt (services/inference/cache-salt.ts). vLLM takes 1 to 1024 characters (protocol.py).
  cache_salt: z.string().min(1).max(1024).optional(),
}

export const chatCompletionRequestSchema = z.looseObject({
  ...generationFields,
  messages: z.array(z.looseObject({ role: z.string().min(1) })).min(1, 'messages must contain at least one message'),
})

const tokenIds = z.array(z.number().int().nonnegative())
export const completionRequestSchema = z.looseObject({
  ...generationFields,
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds.min(1), z.array(tokenIds).min(1)]),
})

export const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1, 'model is required'),
  input: z.union([z.string(), z.array(z.string()).min(1), tokenIds.min(1), z.array(tokenIds).min(1)]),
  user: z.string().max(256).optional(),
})

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>
export type CompletionRequest = z.infer<typeof completionRequestSchema>
export type EmbeddingRequest = z.infer<typeof embeddingRequestSchema>
export type InferenceRequest = ChatCompletionRequest | CompletionRequest | EmbeddingRequest
export type StreamOptions = z.infer<typeof streamOptionsSchema>

/** Whether the client asked for a stream, and with which options (embeddings never stream). */
export function streamingOf(body: InferenceRequest): { stream: boolean; options: StreamOptions | null } {
  if (!('messages' in body) && !('prompt' in body)) return { stream: false, options: null }
  const generation = body as ChatCompletionRequest | CompletionRequest
  return { stream: generation.stream === true, options: generation.stream_options ?? null }
}

/** The usage block we bill on. Embeddings have no completion tokens. */
export const usageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative().optional(),
  total_tokens: z.number().int().nonnegative().optional(),
  /**
   * vLLM with --enable-prompt-tokens-details (engine arg, default off): of prompt_tokens, those served from its
   * prefix cache. github:vllm-project/vllm vllm/entrypoints/openai/protocol.py (engine/protocol.py in newer trees):
   * `PromptTokenUsageInfo.cached_tokens: int | None = None`, `UsageInfo.prompt_tokens_details: PromptTokenUsageInfo |
   * None = None` (newer versions add other detail fields, ignored here). Any other shape counts as none reported
   * (.catch): a malformed detail must not drop the usage we bill.
   */
  prompt_tokens_details: z.object({ cached_tokens: z.number().int().nonnegative().nullish() }).nullish().catch(null),
})
export type Usage = z.infer<typeof usageSchema>
