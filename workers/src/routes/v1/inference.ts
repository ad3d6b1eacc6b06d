// POST /v1/chat/completions, /v1/completions, /v1/embeddings: validate, admit (reserving tokens), pick a node,
// forward; the admission's lease is settled exactly once with the real usage, on every path.
import { Hono, type Context } from 'hono'
import type { z } from 'zod'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { chatCompletionRequestSchema, completionRequestSchema, embeddingRequestSchema } from '../../schemas/openai.ts'
import { admitRequest } from '../../services/admission/admit-request.ts'
import { reservationFor } from '../../services/admission/estimate-reservation.ts'
import { listNodes } from '../../services/nodes/node-directory.ts'
import { forwardInference, type InferenceEndpoint } from '../../services/proxy/forward-inference.ts'
import { pickNode } from '../../services/proxy/pick-node.ts'
import { readJsonBody } from '../read-body.ts'
import { withHeaders } from '../with-headers.ts'

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
  const { identity, config } = c.var
  const admission = await admitRequest(c.env, identity, {
    reservation: reservationFor(endpoint, body, { defaultMaxTokens: config.ADMISSION_DEFAULT_MAX_TOKENS, maxContextTokens: config.ADMISSION_MAX_CONTEXT_TOKENS }),
    leaseTtlMs: config.ADMISSION_LEASE_TTL_MS,
  })
  // Every request that reached a node records its usage exactly once (forwardInference's contract); the ones
  // that failed before settle with 0 in the catch. Admission ignores any settle after the first.
  const settle = (usedTokens: number) => c.executionCtx.waitUntil(admission.settle(usedTokens))
  try {
    const node = pickNode(await listNodes(createDb(c.env.DB), config.SECRETS_KEY), body.model)
    const res = await forwardInference({
      endpoint, body, node, identity,
      requestId: c.var.requestId,
      startedAt: c.var.startedAt,
      clientSignal: c.req.raw.signal,
      firstByteTimeoutMs: config.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
      idleTimeoutMs: config.UPSTREAM_IDLE_TIMEOUT_MS,
      waitUntil: (p) => c.executionCtx.waitUntil(p),
      recordUsage: (event) => {
        settle(event.promptTokens + event.completionTokens)
        return c.env.USAGE_EVENTS.send(event, { contentType: 'json' })
      },
    })
    return withHeaders(res, admission.headers)
  } catch (err) {
    settle(0)
    throw err
  }
}

export const inference = new Hono<AppEnv>()
  .post('/chat/completions', (c) => handle(c, 'chat.completions'))
  .post('/completions', (c) => handle(c, 'completions'))
  .post('/embeddings', (c) => handle(c, 'embeddings'))
