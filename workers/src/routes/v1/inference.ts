// POST /v1/chat/completions, /v1/completions, /v1/embeddings: parse and validate the body, then hand the request
// to services/inference/run-inference.ts (admit, forward, settle).
import { Hono, type Context } from 'hono'
import type { z } from 'zod'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { chatCompletionRequestSchema, completionRequestSchema, embeddingRequestSchema } from '../../schemas/openai.ts'
import { runInference } from '../../services/inference/run-inference.ts'
import type { InferenceEndpoint } from '../../services/inference/upstream-body.ts'
import { readJsonBody } from '../read-body.ts'

const SCHEMAS = {
  'chat.completions': chatCompletionRequestSchema,
  completions: completionRequestSchema,
  embeddings: embeddingRequestSchema,
} satisfies Record<InferenceEndpoint, z.ZodType>

async function handle(c: Context<AppEnv>, endpoint: InferenceEndpoint): Promise<Response> {
  const body = await readJsonBody(c, SCHEMAS[endpoint])
  if ('stream_options' in body && body.stream_options && body.stream !== true) {
    throw new ApiError('invalid_request', "The 'stream_options' parameter is only allowed when 'stream' is enabled.", {
      param: 'stream_options',
      code: 'invalid_value',
    })
  }
  return runInference(c.env, c.get('config'), {
    endpoint,
    body,
    identity: c.get('identity'),
    requestId: c.get('requestId'),
    startedAt: c.get('startedAt'),
    timing: c.get('timing'),
    clientSignal: c.req.raw.signal,
    sessionId: c.req.header('x-session-id') || null,
    waitUntil: (p) => c.executionCtx.waitUntil(p),
  })
}

export const inference = new Hono<AppEnv>()
  .post('/chat/completions', (c) => handle(c, 'chat.completions'))
  .post('/completions', (c) => handle(c, 'completions'))
  .post('/embeddings', (c) => handle(c, 'embeddings'))
