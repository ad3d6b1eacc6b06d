// `/v1/embeddings`: validates the body and answers like vLLM, with deterministic 8-dimension unit
// vectors derived from each input's text. Failure knobs apply as for generation. Called by router.ts.

import type { ServerResponse } from 'node:http'
import { isRecord, pause, resetConnection, sendJson } from './http-io.ts'
import type { InFlight } from './in-flight.ts'
import type { Knobs } from './knobs.ts'
import type { Stats } from './stats.ts'
import { resolveModel } from './served-models.ts'
import type { ServedModels } from './served-models.ts'
import { promptEntryText, promptEntryTokens } from './tokens.ts'
import { badRequest, errorBody, internalError } from './vllm-errors.ts'
import type { VllmError } from './vllm-errors.ts'
import { newId } from './wire-format.ts'

export const EMBEDDING_DIMENSIONS = 8

export type EmbeddingRequest = {
  model: string
  /** Each entry is a string or a token-id list. */
  inputs: Array<string | number[]>
  encodingFormat: 'float' | 'base64'
  promptTokens: number
}

function isTokenIds(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((id) => Number.isInteger(id))
}

/** `input` may be a string, a list of strings, a token-id list, or a list of token-id lists (OpenAI's four forms). */
function inputsOf(input: unknown): Array<string | number[]> | null {
  if (typeof input === 'string') return [input]
  if (isTokenIds(input)) return [input]
  if (!Array.isArray(input) || input.length === 0) return null
  const inputs: Array<string | number[]> = []
  for (const entry of input) {
    if (typeof entry !== 'string' && !isTokenIds(entry)) return null
    inputs.push(entry)
  }
  return inputs
}

export function parseEmbeddingRequest(body: unknown, served: ServedModels): EmbeddingRequest | VllmError {
  if (!isRecord(body)) return badRequest('Request body must be a JSON object')
  const model = resolveModel(body.model, served.embeddingModels)
  if (typeof model !== 'string') return model
  const inputs = inputsOf(body.input)
  if (!inputs) return badRequest('`input` must be a string, a list of strings, or token-id list(s)', 'input')
  const format = body.encoding_format ?? 'float'
  if (format !== 'float' && format !== 'base64') return badRequest('`encoding_format` must be "float" or "base64"', 'encoding_format')
  let promptTokens = 0
  for (const entry of inputs) promptTokens += promptEntryTokens(entry)
  return { model, inputs, encodingFormat: format, promptTokens }
}

/** FNV-1a hash of the text seeds a small PRNG (mulberry32); the vector is then scaled to unit length. */
export function embeddingOf(text: string): number[] {
  let seed = 0x811c9dc5
  for (let i = 0; i < text.length; i++) seed = Math.imul(seed ^ text.charCodeAt(i), 0x01000193)
  const vector = new Array<number>(EMBEDDING_DIMENSIONS)
  let sumOfSquares = 0
  for (let d = 0; d < EMBEDDING_DIMENSIONS; d++) {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    const value = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
    vector[d] = value
    sumOfSquares += value * value
  }
  const norm = Math.sqrt(sumOfSquares) || 1
  // Rounded through float32 so the float and base64 encodings carry the same numbers.
  return Array.from(new Float32Array(vector.map((v) => v / norm)))
}

export function embeddingResponse(request: EmbeddingRequest, omitUsage = false): string {
  const data = request.inputs.map((entry, index) => {
    const vector = embeddingOf(promptEntryText(entry))
    const embedding = request.encodingFormat === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector
    return { index, object: 'embedding', embedding }
  })
  return JSON.stringify({
    id: newId('embd-'),
    object: 'list',
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    data,
    ...(omitUsage
      ? {}
      : { usage: { prompt_tokens: request.promptTokens, total_tokens: request.promptTokens, completion_tokens: 0, prompt_tokens_details: null } }),
  })
}

export type EmbeddingJob = InFlight & { request: EmbeddingRequest; knobs: Knobs; res: ServerResponse; stats: Stats }

/** Failure knobs have no tokens to count here: `reset` drops at once, `midstream-error` acts like `http500`, `stall` like `hang`. */
export async function runEmbedding(job: EmbeddingJob): Promise<void> {
  const { request, knobs, res, stats } = job
  if (knobs.fail === 'hang' || knobs.fail === 'stall') return
  if (knobs.fail === 'reset') return resetConnection(res, job)
  if (knobs.fail === 'http500' || knobs.fail === 'midstream-error') {
    return sendJson(res, 500, errorBody(knobs.errorFormat, internalError('EngineCore encountered an issue.')))
  }
  if (knobs.ttftMs > 0 && !(await pause(knobs.ttftMs, job.signal))) return
  stats.promptTokens += request.promptTokens
  stats.finished.stop++
  sendJson(res, 200, embeddingResponse(request, knobs.omitUsage))
}
