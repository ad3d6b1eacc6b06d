// OpenAPI paths of the price book (issue 16): PUT/GET /admin/models/{model}/price (ADMIN_TOKEN). Request schemas
// are the ones the routes parse with.
import { z } from 'zod'
import { putPriceSchema } from '../schemas/prices.ts'
import { operation } from './operations.ts'

const ADMIN_ERRORS = [400, 401, 404, 413, 500, 503]
const MODEL = { name: 'model', description: 'Model id, URL-encoded (Qwen%2FQwen2.5-7B-Instruct)' }
const usd = z.string().describe('USD per million tokens, an exact decimal string with six decimals')
export const priceVersionSchema = z.strictObject({
  object: z.literal('model.price'),
  model: z.string().optional(),
  currency: z.literal('usd'),
  unit: z.literal('per_million_tokens'),
  input: usd,
  output: usd,
  cached_input: usd.nullable().describe('USD per million prompt tokens the node served from its prefix cache; null: they cost the input price'),
  effective_from: z.string().describe('ISO 8601: the version applies to requests started at or after it'),
})

/** A model's price book: GET /admin/models/{model}/price, and each item of the console's GET /dashboard/api/prices. */
export const modelPricesSchema = z.strictObject({
  object: z.literal('list'),
  model: z.string(),
  current: priceVersionSchema.nullable(),
  data: z.array(priceVersionSchema),
})

export const billingPaths = {
  '/admin/models/{model}/price': {
    put: operation('putModelPrice', {
      security: 'AdminToken',
      errors: ADMIN_ERRORS,
      summary:
        'Set a model price version (USD per million tokens as decimal strings; optional cached_input ≤ input for prefix-cached prompt tokens; effective_from at least 5 minutes ahead, the default; audited)',
      tag: 'Billing',
      params: [MODEL],
      body: putPriceSchema,
      ok: { 200: { schema: priceVersionSchema, description: 'The version written' } },
    }),
    get: operation('listModelPrices', {
      security: 'AdminToken',
      errors: ADMIN_ERRORS,
      summary: "A model's price versions (history, the one in force, those ahead)",
      tag: 'Billing',
      params: [MODEL],
      ok: {
        200: {
          schema: modelPricesSchema,
          description: 'The versions, oldest first',
        },
      },
    }),
  },
}
