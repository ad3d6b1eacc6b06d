// OpenAPI paths of the public surface: /v1 (tenant API keys), /health, the Stripe webhook, and the pages and
// documents served beside them. Request schemas are the ones the routes parse with; answers are
// schemas/openai-responses.ts and schemas/api-responses.ts.
import { z } from 'zod'
import { chatCompletionRequestSchema, completionRequestSchema, embeddingRequestSchema } from '../schemas/openai.ts'
import { chatCompletionSchema, embeddingListSchema, modelListSchema, textCompletionSchema } from '../schemas/openai-responses.ts'
import { healthSchema, stripeWebhookResultSchema, usageSummarySchema } from '../schemas/api-responses.ts'
import { tenantUsageQuerySchema } from '../schemas/usage-query.ts'
import { operation } from './operations.ts'

const INFERENCE_ERRORS = [400, 401, 403, 404, 413, 429, 500, 502, 503, 504]
const SSE = (event: string) =>
  `Server-sent events when stream=true: one \`data: {${event}}\` event per chunk (see components.schemas), ` +
  'then `data: [DONE]`. A failure after the headers is a final `data: {"error":{…}}` event (the Error envelope) before the stream closes.'

export const publicPaths = {
  '/v1/chat/completions': {
    post: operation('createChatCompletion', {
      summary: 'Create a chat completion (OpenAI-compatible)',
      tag: 'Inference',
      security: 'ApiKey',
      description:
        "OpenAI's request body; fields the gateway does not read (tools, response_format, vLLM extras) are forwarded to the node untouched. `best_of` may only be 1.",
      body: chatCompletionRequestSchema,
      ok: {
        200: { schema: chatCompletionSchema, description: 'A chat.completion, or a stream of chat.completion.chunk events', sse: SSE('chat.completion.chunk') },
      },
      errors: INFERENCE_ERRORS,
    }),
  },
  '/v1/completions': {
    post: operation('createCompletion', {
      summary: 'Create a completion (legacy, OpenAI-compatible)',
      tag: 'Inference',
      security: 'ApiKey',
      body: completionRequestSchema,
      ok: { 200: { schema: textCompletionSchema, description: 'A text_completion, or a stream of text_completion events', sse: SSE('text_completion') } },
      errors: INFERENCE_ERRORS,
    }),
  },
  '/v1/embeddings': {
    post: operation('createEmbedding', {
      summary: 'Create embeddings (OpenAI-compatible)',
      tag: 'Inference',
      security: 'ApiKey',
      body: embeddingRequestSchema,
      ok: { 200: { schema: embeddingListSchema, description: 'An embedding list' } },
      errors: INFERENCE_ERRORS,
    }),
  },
  '/v1/models': {
    get: operation('listModels', {
      summary: 'List the models ready nodes serve',
      tag: 'Inference',
      security: 'ApiKey',
      ok: { 200: { schema: modelListSchema, description: 'A model list' } },
      errors: [401, 403, 429, 500, 503],
    }),
  },
  '/v1/usage': {
    get: operation('getOwnUsage', {
      summary: "The calling tenant's own usage",
      tag: 'Usage',
      security: 'ApiKey',
      query: tenantUsageQuerySchema,
      ok: { 200: { schema: usageSummarySchema, description: 'Totals and one row per group' } },
      errors: [400, 401, 403, 429, 500, 503],
    }),
  },
  '/health': {
    get: operation('health', {
      summary: 'Liveness',
      tag: 'Operations',
      security: null,
      ok: { 200: { schema: healthSchema, description: 'The Worker answers' } },
      errors: [],
    }),
  },
  '/metrics': {
    get: operation('metrics', {
      summary: 'Prometheus metrics (text exposition)',
      tag: 'Operations',
      security: 'MetricsToken',
      ok: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } } },
      errors: [401, 500, 503],
    }),
  },
  '/api/webhooks/stripe': {
    post: operation('stripeWebhook', {
      summary: 'Stripe event deliveries',
      tag: 'Webhooks',
      security: 'StripeSignature',
      description:
        'The raw body is a Stripe event; the Stripe-Signature header over it is the authentication (checked, with its age, before the body is read; 512 KiB cap).',
      body: z.looseObject({ id: z.string(), type: z.string(), data: z.looseObject({ object: z.looseObject({}) }) }),
      ok: { 200: { schema: stripeWebhookResultSchema, description: 'Stored (including a signed event our schema refuses, stored as invalid)' } },
      errors: [400, 413, 500, 503],
    }),
  },
  '/openapi.json': {
    get: operation('openApiDocument', {
      summary: 'This document',
      tag: 'Documentation',
      security: null,
      ok: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } },
      errors: [],
    }),
  },
  '/docs': { get: page('apiReference', 'The API reference page (Scalar, self-hosted) for this document') },
  '/docs/scalar.js': { get: page('apiReferenceScript', "The API reference page's script (@scalar/api-reference standalone bundle)", 'text/javascript') },
}

function page(id: string, summary: string, type = 'text/html') {
  return operation(id, {
    summary,
    tag: 'Documentation',
    security: null,
    ok: { 200: { description: summary, content: { [type]: { schema: { type: 'string' } } } } },
    errors: [],
  })
}
