// OpenAI's documented answer shapes for the /v1 endpoints (platform.openai.com/docs/api-reference: chat object,
// chat chunk object, completions object, embedding list, model list). The gateway relays the node's answer and
// does not parse these on the request path: they describe the wire for the OpenAPI document (workers/src/openapi/)
// and for the tests that check real answers against it. Loose objects: vLLM adds fields (prompt_logprobs, kv_transfer_params…).
import { z } from 'zod'

const usage = z.looseObject({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
})

const toolCall = z.looseObject({
  id: z.string(),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
})

const finishReason = z.string().nullable().describe('stop, length, tool_calls, content_filter (vLLM may add abort); null while streaming')

export const chatCompletionSchema = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int().describe('Unix seconds'),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: z.number().int().nonnegative(),
      message: z.looseObject({
        role: z.literal('assistant'),
        content: z.string().nullable(),
        refusal: z.string().nullable().optional(),
        tool_calls: z.array(toolCall).optional(),
      }),
      logprobs: z.unknown().optional(),
      finish_reason: finishReason,
    }),
  ),
  usage: usage.nullish(),
  system_fingerprint: z.string().nullish(),
})

/** One `data:` event of a streamed chat completion; the stream ends with `data: [DONE]`. */
export const chatCompletionChunkSchema = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion.chunk'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: z.number().int().nonnegative(),
      delta: z.looseObject({ role: z.string().optional(), content: z.string().nullish(), tool_calls: z.array(z.looseObject({})).optional() }),
      logprobs: z.unknown().optional(),
      finish_reason: finishReason,
    }),
  ),
  usage: usage.nullish().describe('Only on the last chunk, with stream_options.include_usage'),
})

/** A legacy completion, whole or as one `data:` event of a stream (same object type). */
export const textCompletionSchema = z.looseObject({
  id: z.string(),
  object: z.literal('text_completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: z.number().int().nonnegative(),
      text: z.string(),
      logprobs: z.unknown().optional(),
      finish_reason: finishReason,
    }),
  ),
  usage: usage.nullish(),
})

export const embeddingListSchema = z.looseObject({
  object: z.literal('list'),
  data: z.array(
    z.looseObject({
      object: z.literal('embedding'),
      index: z.number().int().nonnegative(),
      embedding: z.union([z.array(z.number()), z.string()]).describe('floats, or base64 with encoding_format=base64'),
    }),
  ),
  model: z.string(),
  usage: z.looseObject({ prompt_tokens: z.number().int().nonnegative(), total_tokens: z.number().int().nonnegative() }),
})

export const modelListSchema = z.strictObject({
  object: z.literal('list'),
  data: z.array(z.strictObject({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string() })),
})
