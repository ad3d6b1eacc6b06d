// POST /v1/chat/completions, /v1/completions, /v1/embeddings: validate, admit, pick a node, forward.
import { Hono, type Context } from 'hono'
import type { z } from 'zod'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { chatCompletionRequestSchema, completionRequestSchema, embeddingRequestSchema } from '../../schemas/openai.ts'
import { admitRequest } from '../../services/admission/admit-request.ts'
import { listNodes } from '../../services/nodes/node-directory.ts'
import { forwardInference, type InferenceEndpoint } from '../../services/proxy/forward-inference.ts'
import { pickNode } from '../../services/proxy/pick-node.ts'
import { readJsonBody } from '../read-body.ts'

const SCHEMAS = {
  'chat.completions': chatCompletionRequestSchema,
  completions: completionRequestSchema,
  embeddings: embeddingRequestSchema,
} satisfies Record<InferenceEndpoint, z.ZodType>

async function handle(c: Context<AppEnv>, endpoint: InferenceEndpoint): Promise<Response> {
  const body = await readJsonBody(c, SCHEMAS[endpoint])
  if ('stream_options' in body && body.stream_options && body.stream !== true) {
    throw new ApiError('invalid_request', 'The \'stream_options\' parameter is only allowed when \'stream\' is enabled.', { param: 'stream_options', code: 'invalid_value' })
  }
  const identity = c.var.identity
  await admitRequest(c.env, identity)
  const node = pickNode(await listNodes(createDb(c.env.DB), c.var.config.SECRETS_KEY), body.model)
  return forwardInference({
    endpoint, body, node, identity,
    requestId: c.var.requestId,
    startedAt: c.var.startedAt,
    clientSignal: c.req.raw.signal,
    firstByteTimeoutMs: c.var.config.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
    idleTimeoutMs: c.var.config.UPSTREAM_IDLE_TIMEOUT_MS,
    waitUntil: (p) => c.executionCtx.waitUntil(p),
    recordUsage: (event) => c.env.USAGE_EVENTS.send(event, { contentType: 'json' }),
  })
}

export const inference = new Hono<AppEnv>()
  .post('/chat/completions', (c) => handle(c, 'chat.completions'))
  .post('/completions', (c) => handle(c, 'completions'))
  .post('/embeddings', (c) => handle(c, 'embeddings'))
