// The exact JSON vLLM sends for chat and text completions, streamed (SSE frames) and whole. Streamed
// chunks omit unset fields like vLLM's `model_dump_json(exclude_unset=True)`; `usage` appears only
// when asked for. Frames are built from string templates because this is the benchmark's hot path.

import { randomUUID } from 'node:crypto'

/** `prompt_tokens_details` only with --enable-prompt-tokens-details (the reportedCachedTokens knob here). */
export type Usage = { prompt_tokens: number; total_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens: number } }
export type FinishReason = 'stop' | 'length'

export function usageOf(promptTokens: number, completionTokens: number, cachedTokens: number | null = null): Usage {
  // Key order as vLLM's UsageInfo serialises it.
  const usage: Usage = { prompt_tokens: promptTokens, total_tokens: promptTokens + completionTokens, completion_tokens: completionTokens }
  return cachedTokens === null ? usage : { ...usage, prompt_tokens_details: { cached_tokens: cachedTokens } }
}

/** Builds every frame/body of one response; one instance per request (it owns the id and timestamp). */
export type ResponseFormat = {
  /** Frame sent with the first token: the chat role delta; '' for text completions, which have none. */
  opening(usage: Usage | undefined): string
  token(text: string, usage: Usage | undefined): string
  /** Frame carrying finish_reason (empty content: the end-of-sequence token has no text). */
  finish(reason: FinishReason, usage: Usage | undefined): string
  /** The `stream_options.include_usage` frame: `choices: []` plus usage. */
  usageOnly(usage: Usage): string
  /** Non-streaming response body; without `usage` (the omitUsage knob) the field is left out. */
  whole(text: string, reason: FinishReason, usage: Usage | undefined): string
}

export const DONE_FRAME = 'data: [DONE]\n\n'

export function newId(prefix: string): string {
  return prefix + randomUUID().replaceAll('-', '') // vLLM: f"{prefix}-{uuid4().hex}"
}

/** Closes a chunk object (given without its final `}`), adding usage when present, as one SSE frame. */
function frame(unclosedJson: string, usage: Usage | undefined): string {
  return usage === undefined ? `data: ${unclosedJson}}\n\n` : `data: ${unclosedJson},"usage":${JSON.stringify(usage)}}\n\n`
}

export function chatFormat(model: string): ResponseFormat {
  const id = newId('chatcmpl-')
  const created = Math.floor(Date.now() / 1000)
  const head = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":`
  return {
    opening: (usage) => frame(`${head}[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`, usage),
    token: (text, usage) => frame(`${head}[{"index":0,"delta":{"content":${JSON.stringify(text)}},"logprobs":null,"finish_reason":null}]`, usage),
    finish: (reason, usage) => frame(`${head}[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"${reason}","stop_reason":null}]`, usage),
    usageOnly: (usage) => frame(`${head}[]`, usage),
    whole: (text, reason, usage) =>
      JSON.stringify({
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: text,
              refusal: null,
              annotations: null,
              audio: null,
              function_call: null,
              tool_calls: [],
              reasoning_content: null,
            },
            logprobs: null,
            finish_reason: reason,
            stop_reason: null,
          },
        ],
        service_tier: null,
        system_fingerprint: null,
        ...(usage ? { usage: { ...usage, prompt_tokens_details: usage.prompt_tokens_details ?? null } } : {}),
        prompt_logprobs: null,
        kv_transfer_params: null,
      }),
  }
}

export function textFormat(model: string): ResponseFormat {
  const id = newId('cmpl-')
  const created = Math.floor(Date.now() / 1000)
  const head = `{"id":"${id}","object":"text_completion","created":${created},"model":${JSON.stringify(model)},"choices":`
  return {
    opening: () => '',
    token: (text, usage) => frame(`${head}[{"index":0,"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":null,"stop_reason":null}]`, usage),
    finish: (reason, usage) => frame(`${head}[{"index":0,"text":"","logprobs":null,"finish_reason":"${reason}","stop_reason":null}]`, usage),
    usageOnly: (usage) => frame(`${head}[]`, usage),
    whole: (text, reason, usage) =>
      JSON.stringify({
        id,
        object: 'text_completion',
        created,
        model,
        choices: [{ index: 0, text, logprobs: null, finish_reason: reason, stop_reason: null, prompt_logprobs: null }],
        service_tier: null,
        system_fingerprint: null,
        ...(usage ? { usage: { ...usage, prompt_tokens_details: usage.prompt_tokens_details ?? null } } : {}),
        kv_transfer_params: null,
      }),
  }
}
