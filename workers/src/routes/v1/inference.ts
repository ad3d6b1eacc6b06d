// POST /v1/chat/completions, /v1/completions, /v1/embeddings: validate, admit (reserving tokens), then route and
// forward (with retries); the admission's lease is settled exactly once with the real usage, on every path.
import { Hono, type Context } from 'hono'
import type { z } from 'zod'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { chatCompletionRequestSchema, completionRequestSchema, embeddingRequestSchema } from '../../schemas/openai.ts'
import { admitRequest } from '../../services/admission/admit-request.ts'
import { capCompletion, refitCompletion, reservationFor } from '../../services/admission/estimate-reservation.ts'
import type { InferenceEndpoint } from '../../services/proxy/forward-inference.ts'
import { proxyInference } from '../../services/proxy/proxy-inference.ts'
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
  const identity = c.get('identity')
  const config = c.get('config')
  const reservation = reservationFor(endpoint, body, { defaultMaxTokens: config.ADMISSION_DEFAULT_MAX_TOKENS, maxContextTokens: config.ADMISSION_MAX_CONTEXT_TOKENS })
  const admission = await admitRequest(c.env, identity, { reservation, leaseTtlMs: config.ADMISSION_LEASE_TTL_MS, waitUntil: (p) => c.executionCtx.waitUntil(p) })
  // The usage event of a request that reached a node settles the lease with its real tokens; any other ending
  // settles 0. Only the first settle counts, so the fallbacks below never undo a real one.
  const settle = (usedTokens: number) => c.executionCtx.waitUntil(admission.settle(usedTokens))
  // The node may generate only what the lease holds: its completion allowance is capped to the reservation.
  const forwarded = capCompletion(endpoint, body, reservation, admission.reservedTokens)
  try {
    const res = await proxyInference(c.env, config, {
      endpoint, body: forwarded, identity, refitCompletion: (room) => refitCompletion(body, forwarded, room),
      requestId: c.get('requestId'),
      startedAt: c.get('startedAt'),
      clientSignal: c.req.raw.signal,
      sessionId: c.req.header('x-session-id') || null,
      waitUntil: (p) => c.executionCtx.waitUntil(p),
      onUsage: (event) => settle(event.promptTokens + event.completionTokens),
      timing: c.get('timing'),
    })
    // A failure answered without any node having the request records no usage: nothing to wait for.
    if (res.status !== 200) settle(0)
    return withHeaders(res, admission.headers)
  } catch (err) {
    settle(0)
    // Routing failed after admission (404 no such model, 503 no node): the client still counts against its
    // limits, so the answer carries the same x-ratelimit-* headers as any admitted response. The error's own
    // headers (retry-after) win.
    if (err instanceof ApiError) throw new ApiError(err.kind, err.message, { ...err.extra, headers: { ...admission.headers, ...err.extra.headers } })
    throw err
  }
}

export const inference = new Hono<AppEnv>()
  .post('/chat/completions', (c) => handle(c, 'chat.completions'))
  .post('/completions', (c) => handle(c, 'completions'))
  .post('/embeddings', (c) => handle(c, 'embeddings'))
