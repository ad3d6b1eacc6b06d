// The OpenAPI 3.1 document of the Worker's API, assembled from the zod schemas the routes validate with
// (paths-public.ts, paths-admin.ts) and built once per isolate. Served by routes/openapi.ts; checked by
// workers/test/http/openapi.test.ts (valid 3.1, every non-dev route present, real answers match it).
import { chatCompletionChunkSchema, chatCompletionSchema, embeddingListSchema, modelListSchema, textCompletionSchema } from '../schemas/openai-responses.ts'
import { apiKeySchema, tenantSchema, usageSummarySchema } from '../schemas/api-responses.ts'
import { jsonSchema } from './json-schema.ts'
import { ERROR_RESPONSES, ERROR_SCHEMA, SECURITY_SCHEMES } from './operations.ts'
import { adminPaths } from './paths-admin.ts'
import { fleetPaths } from './paths-fleet.ts'
import { consolePaths } from './paths-console.ts'
import { billingPaths } from './paths-billing.ts'
import { publicPaths } from './paths-public.ts'

const DESCRIPTION = `Multi-tenant OpenAI-compatible inference gateway. \`/v1\` takes OpenAI's request bodies and answers
in OpenAI's shapes (streams as \`text/event-stream\`); errors everywhere use OpenAI's envelope
\`{"error": {"message", "type", "param", "code"}}\` with an \`x-request-id\` header.

**Model ids contain \`/\`** (\`Qwen/Qwen2.5-7B-Instruct\`). They travel in JSON bodies (\`model\`); a path
parameter that carries one is URL-encoded (\`Qwen%2FQwen2.5-7B-Instruct\`) and decoded by the route.

Times in query strings (\`from\`, \`to\`) are ISO 8601, Unix seconds or milliseconds; times in answers are
milliseconds since the epoch (OpenAI's \`created\` fields stay Unix seconds).`

/** Schemas tests and clients refer to by name (the SSE events have no other place in the document). */
const NAMED_SCHEMAS = {
  ChatCompletion: chatCompletionSchema,
  ChatCompletionChunk: chatCompletionChunkSchema,
  TextCompletion: textCompletionSchema,
  EmbeddingList: embeddingListSchema,
  ModelList: modelListSchema,
  Tenant: tenantSchema,
  ApiKey: apiKeySchema,
  UsageSummary: usageSummarySchema,
}

export function buildOpenApiDocument() {
  return {
    openapi: '3.1.1',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: { title: 'CrossLogic Inference Cloud API', version: '1', description: DESCRIPTION },
    tags: [
      'Inference',
      'Usage',
      'Tenants',
      'Keys',
      'Nodes',
      'Node launches',
      'Fleets',
      'Billing',
      'Audit',
      'Runner',
      'Webhooks',
      'Operations',
      'Documentation',
      'Console',
    ].map((name) => ({ name })),
    paths: { ...publicPaths, ...adminPaths, ...fleetPaths, ...consolePaths, ...billingPaths },
    components: {
      schemas: {
        Error: ERROR_SCHEMA,
        ...Object.fromEntries(Object.entries(NAMED_SCHEMAS).map(([name, schema]) => [name, jsonSchema(schema, 'output')])),
      },
      responses: ERROR_RESPONSES,
      securitySchemes: SECURITY_SCHEMES,
    },
  }
}

let cached: string | undefined
/** The document as JSON text, built on first use in this isolate (the schemas do not change while it lives). */
export function openApiJson(): string {
  cached ??= JSON.stringify(buildOpenApiDocument())
  return cached
}
