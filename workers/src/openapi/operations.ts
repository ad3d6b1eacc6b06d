// Building blocks of the OpenAPI document: one operation from its zod schemas, the error envelope (from
// errors.ts's table) and the security schemes. document.ts assembles the paths from these.
import type { z } from 'zod'
import { ERROR_KINDS } from '../errors.ts'
import { jsonSchema, queryParameters, type JsonSchema } from './json-schema.ts'

export const SECURITY_SCHEMES = {
  ApiKey: { type: 'http', scheme: 'bearer', description: 'A tenant API key (`sk-…`), issued by POST /admin/tenants/{id}/keys.' },
  AdminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN secret.' },
  RunnerToken: { type: 'http', scheme: 'bearer', description: 'The RUNNER_TOKEN secret (orchestrator-runner).' },
  MetricsToken: { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN secret (Prometheus).' },
  NodeRegistrationToken: { type: 'http', scheme: 'bearer', description: "The one-time token minted for a node's launch attempt." },
  StripeSignature: { type: 'apiKey', in: 'header', name: 'Stripe-Signature', description: "Stripe's signature over the raw body (webhook secret)." },
  ConsoleSession: { type: 'apiKey', in: 'cookie', name: 'cic_session', description: 'A console session (sign in at /dashboard/login).' },
} as const
export type Security = keyof typeof SECURITY_SCHEMES

const ERROR_TYPES = [...new Set(Object.values(ERROR_KINDS).map(([, type]) => type))].sort()

/** Our error envelope (errors.ts errorBody), also the final `data:` event of a stream that fails midway. */
export const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['message', 'type', 'param', 'code'],
      additionalProperties: false,
      properties: {
        message: { type: 'string' },
        type: { type: 'string', enum: ERROR_TYPES },
        param: { type: ['string', 'null'], description: 'the offending field, when one is to blame' },
        code: { type: ['string', 'null'], description: 'a stable machine-readable code, e.g. invalid_api_key, model_not_found' },
      },
    },
  },
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request',
  401: 'Missing or invalid credentials',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  413: 'Request body too large',
  429: 'Rate limit or quota exceeded (Retry-After; a quota answer sends x-should-retry: false)',
  500: 'Internal error',
  502: 'The node failed',
  503: 'No node available, or a dependency (D1, a Durable Object, a Queue) failed; Retry-After',
  504: 'The node timed out',
}
/** Every status errors.ts can answer with, as reusable responses (components.responses.Error<status>). */
export const ERROR_STATUSES = [...new Set(Object.values(ERROR_KINDS).map(([status]) => status))].sort((a, b) => a - b)

const header = (description: string) => ({ description, schema: { type: 'string' } })
export const ERROR_RESPONSES = Object.fromEntries(
  ERROR_STATUSES.map((status) => [
    `Error${status}`,
    {
      description: STATUS_TEXT[status] ?? 'Error',
      headers: {
        'x-request-id': header("This request's id (also in the logs)"),
        ...(status === 429 || status === 503 ? { 'retry-after': header('Seconds to wait before retrying') } : {}),
      },
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    },
  ]),
)

export type OperationSpec = {
  summary: string
  tag: string
  security?: Security | null
  description?: string
  params?: { name: string; description: string }[]
  query?: z.ZodObject
  body?: z.ZodType
  /** success status → zod schema of the JSON answer; `sse` adds a text/event-stream alternative. */
  ok: Record<number, { schema?: z.ZodType; ref?: string; description: string; sse?: string; content?: Record<string, JsonSchema> }>
  errors: number[]
}

const jsonContent = (schema: JsonSchema) => ({ 'application/json': { schema } })

export function operation(id: string, spec: OperationSpec) {
  const parameters = [
    // A path parameter is percent-encoded like any path segment (a `/` inside one, as in a model id, is %2F).
    ...(spec.params ?? []).map((p) => ({
      name: p.name,
      in: 'path',
      required: true,
      description: `${p.description} (URL-encoded)`,
      schema: { type: 'string' },
    })),
    ...(spec.query ? queryParameters(spec.query) : []),
  ]
  const responses: Record<string, unknown> = {}
  for (const [status, ok] of Object.entries(spec.ok)) {
    const schema = ok.ref ? { $ref: ok.ref } : ok.schema ? jsonSchema(ok.schema, 'output') : undefined
    const content = ok.content ?? {
      ...(schema ? jsonContent(schema) : {}),
      ...(ok.sse ? { 'text/event-stream': { schema: { type: 'string', description: ok.sse } } } : {}),
    }
    responses[status] = { description: ok.description, ...(Object.keys(content).length ? { content } : {}) }
  }
  for (const status of spec.errors) responses[String(status)] = { $ref: `#/components/responses/Error${status}` }
  return {
    operationId: id,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    security: spec.security ? [{ [spec.security]: [] }] : [],
    ...(parameters.length ? { parameters } : {}),
    ...(spec.body ? { requestBody: { required: true, content: jsonContent(jsonSchema(spec.body, 'input')) } } : {}),
    responses,
  }
}
