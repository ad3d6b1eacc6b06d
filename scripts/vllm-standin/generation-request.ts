// Parses and validates `/v1/chat/completions` and `/v1/completions` bodies the way vLLM does
// (model lookup, stream_options rule, max_tokens, context length) into one plain request shape.

import { messageText, promptEntryText, promptEntryTokens, TOKENS_PER_MESSAGE, words } from './tokens.ts'
import { isRecord } from './http-io.ts'
import { resolveModel } from './served-models.ts'
import type { ServedModels } from './served-models.ts'
import { badRequest } from './vllm-errors.ts'
import type { VllmError } from './vllm-errors.ts'

export type GenerationKind = 'chat' | 'text'

export type GenerationRequest = {
  kind: GenerationKind
  /** Served model name echoed in responses. */
  model: string
  promptTokens: number
  /** Text the deterministic answer echoes. */
  sourceText: string
  /** max_completion_tokens ?? max_tokens ?? (maxModelLen − promptTokens), as vLLM defaults it. */
  maxTokens: number
  isStream: boolean
  includeUsage: boolean
  /** vLLM only honours continuous_usage_stats together with include_usage. */
  continuousUsage: boolean
}

type Body = Record<string, unknown>
type Prompt = { promptTokens: number; sourceText: string }

/** Python truthiness, because vLLM checks `if data.get("stream_options") and not data.get("stream")`. */
function isTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0
  if (isRecord(value)) return Object.keys(value).length > 0
  return Boolean(value)
}

function chatPrompt(body: Body): Prompt | VllmError {
  const messages = body.messages
  if (!Array.isArray(messages) || messages.length === 0) return badRequest('Field required: messages must be a non-empty list', 'messages')
  let promptTokens = 0
  let sourceText = ''
  for (const message of messages) {
    if (!isRecord(message) || typeof message.role !== 'string') return badRequest('Each message needs a string `role`', 'messages')
    sourceText = messageText(message.content)
    promptTokens += words(sourceText).length + TOKENS_PER_MESSAGE
  }
  return { promptTokens, sourceText }
}

function textPrompt(body: Body): Prompt | VllmError {
  let prompt = body.prompt
  // One prompt per request: a string, a token-id list, or a one-element list of either.
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) prompt = prompt[0]
  const isTokenIds = Array.isArray(prompt) && prompt.every((id) => Number.isInteger(id))
  if (typeof prompt !== 'string' && !isTokenIds) {
    return badRequest('`prompt` must be a string or a list of token ids (the stand-in serves one prompt per request)', 'prompt')
  }
  return { promptTokens: promptEntryTokens(prompt), sourceText: promptEntryText(prompt) }
}

function optionalMaxTokens(body: Body): number | undefined | VllmError {
  const raw = body.max_completion_tokens ?? body.max_tokens
  if (raw === undefined || raw === null) return undefined
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1) return badRequest(`max_tokens must be at least 1, got ${String(raw)}.`, 'max_tokens')
  return raw
}

function contextLengthError(maxModelLen: number, promptTokens: number, maxTokens: number | undefined): VllmError | null {
  if (maxTokens === undefined && promptTokens >= maxModelLen) {
    return badRequest(
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`,
    )
  }
  if (maxTokens !== undefined && promptTokens + maxTokens > maxModelLen) {
    return badRequest(
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptTokens + maxTokens} tokens ` +
        `(${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
    )
  }
  return null
}

/** Validates a parsed JSON body; returns the request or the vLLM error to send. */
export function parseGenerationRequest(kind: GenerationKind, body: unknown, served: ServedModels): GenerationRequest | VllmError {
  if (!isRecord(body)) return badRequest('Request body must be a JSON object')
  const model = resolveModel(body.model, served.models)
  if (typeof model !== 'string') return model
  if (isTruthy(body.stream_options) && !isTruthy(body.stream)) return badRequest('Stream options can only be defined when `stream=True`.')

  const prompt = kind === 'chat' ? chatPrompt(body) : textPrompt(body)
  if ('status' in prompt) return prompt
  const maxTokens = optionalMaxTokens(body)
  if (typeof maxTokens === 'object') return maxTokens
  const tooLong = contextLengthError(served.maxModelLen, prompt.promptTokens, maxTokens)
  if (tooLong) return tooLong

  const options = isRecord(body.stream_options) ? body.stream_options : {}
  const includeUsage = options.include_usage === true
  return {
    kind,
    model,
    promptTokens: prompt.promptTokens,
    sourceText: prompt.sourceText,
    maxTokens: maxTokens ?? served.maxModelLen - prompt.promptTokens,
    isStream: body.stream === true,
    includeUsage,
    continuousUsage: includeUsage && options.continuous_usage_stats === true,
  }
}
