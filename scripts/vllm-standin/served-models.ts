// What this stand-in node serves: model names and context length, the model lookup every /v1 endpoint
// does, and the `GET /v1/models` body. Used by router.ts, generation-request.ts and embeddings.ts.

import { badRequest, modelNotFound } from './vllm-errors.ts'
import type { VllmError } from './vllm-errors.ts'

export type ServedModels = {
  /** Generation models (chat and text completions); the first is the default and labels /metrics. */
  models: readonly string[]
  /** Embedding models (/v1/embeddings); the first is that endpoint's default. */
  embeddingModels: readonly string[]
  maxModelLen: number
  /** Unix seconds reported as `created`. */
  createdAt: number
}

/**
 * The request's `model`, checked against the names the endpoint serves (a real node runs one model, so
 * anything else "does not exist"); vLLM falls back to the served model when `model` is absent.
 */
export function resolveModel(requested: unknown, names: readonly string[]): string | VllmError {
  const model = requested ?? names[0]
  if (typeof model !== 'string') return badRequest('`model` must be a string', 'model')
  return names.includes(model) ? model : modelNotFound(model)
}

export function modelsListBody(served: ServedModels): string {
  const data = [...served.models, ...served.embeddingModels].map((id) => ({
    id,
    object: 'model',
    created: served.createdAt,
    owned_by: 'vllm',
    root: id,
    parent: null,
    max_model_len: served.maxModelLen,
    permission: [
      {
        id: 'modelperm-' + id.replace(/[^a-zA-Z0-9]/g, ''),
        object: 'model_permission',
        created: served.createdAt,
        allow_create_engine: false,
        allow_sampling: true,
        allow_logprobs: true,
        allow_search_indices: false,
        allow_view: true,
        allow_fine_tuning: false,
        organization: '*',
        group: null,
        is_blocking: false,
      },
    ],
  }))
  return JSON.stringify({ object: 'list', data })
}
