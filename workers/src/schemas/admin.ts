// Bodies of the admin API (our own API: strict objects, unknown fields are errors).
import { z } from 'zod'
import { NODE_ENGINES } from './node-ops.ts'
import { usdAmountSchema } from './prices.ts'
import { timestampParam } from './timestamp-param.ts'
import { PLAN_NAMES } from '../../../durable-objects/tenant-gate/contract.ts'

const limit = z.number().int().nonnegative()
const plan = z.enum(PLAN_NAMES)
/**
 * Per-tenant overrides of the plan's limits; 0 means unlimited, absent means the plan's value. rpm/tpm are per
 * rolling minute, concurrency is requests in flight, key_rpm is each key's rpm unless the key sets its own,
 * budget_tokens is tokens per calendar month (UTC), budget_usd is USD per calendar month (a decimal string,
 * "1.00"; stored and enforced as integer micro-dollars, `budget_micro_usd`, see schemas/prices.ts).
 */
const tenantLimitsShape = {
  rpm: limit.optional(),
  tpm: limit.optional(),
  concurrency: limit.optional(),
  key_rpm: limit.optional(),
  budget_tokens: limit.optional(),
}
/** budget_usd in the API → budget_micro_usd as stored in tenants.limits and read by the admission object. */
const withMicroUsd = <T extends { budget_usd?: number | null | undefined }>({ budget_usd, ...rest }: T) =>
  budget_usd === undefined ? rest : { ...rest, budget_micro_usd: budget_usd }
export const tenantLimitsSchema = z.strictObject({ ...tenantLimitsShape, budget_usd: usdAmountSchema.optional() }).transform(withMicroUsd)
export type TenantLimits = z.infer<typeof tenantLimitsSchema>
/** In a PATCH, null removes an override so the plan's value applies again. */
const tenantLimitsPatchSchema = z
  .strictObject({
    ...(Object.fromEntries(Object.keys(tenantLimitsShape).map((k) => [k, limit.nullable().optional()])) as Record<
      keyof typeof tenantLimitsShape,
      z.ZodOptional<z.ZodNullable<typeof limit>>
    >),
    budget_usd: usdAmountSchema.nullable().optional(),
  })
  .transform(withMicroUsd)
export type TenantLimitsPatch = z.infer<typeof tenantLimitsPatchSchema>

export const createTenantSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  plan: plan.optional(),
  limits: tenantLimitsSchema.optional(),
  stripe_customer_id: z
    .string()
    .regex(/^cus_[A-Za-z0-9]+$/, 'must look like cus_...')
    .optional(),
})

export const updateTenantSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  plan: plan.optional(),
  status: z.enum(['active', 'suspended']).optional(),
  status_reason: z.string().max(500).nullable().optional(),
  limits: tenantLimitsPatchSchema.optional(),
  stripe_customer_id: z
    .string()
    .regex(/^cus_[A-Za-z0-9]+$/, 'must look like cus_...')
    .nullable()
    .optional(),
})

export const createKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  limits: z.strictObject({ rpm: limit.optional() }).optional(),
})

/** Per-node circuit breaker settings; absent fields keep their current value (defaults: 5 failures, 30 s, 1 probe). */
export const breakerSettingsSchema = z.strictObject({
  failure_threshold: z.number().int().min(1).max(1000).optional(),
  cooldown_ms: z.number().int().min(0).max(3_600_000).optional(),
  half_open_probes: z.number().int().min(1).max(100).optional(),
})

/**
 * The node's base URL, without the `/v1` OpenAI clients put in their base URL (the gateway appends
 * `/v1/chat/completions` itself; `/health` and `/metrics` live at the root).
 */
const nodeEndpoint = z
  .url({ protocol: /^https?$/, error: 'endpoint must be an http(s) URL' })
  .transform((url) => url.replace(/\/+$/, '').replace(/\/v1$/i, '').replace(/\/+$/, ''))

export const registerNodeSchema = z.strictObject({
  endpoint: nodeEndpoint,
  models: z.array(z.string().min(1).max(256)).min(1).max(64),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes')
    .optional(),
  api_key: z.string().min(1).max(512).optional(),
  /** vllm (default) gets a per-tenant cache_salt; openai_compatible (another server) gets none. */
  engine: z.enum(NODE_ENGINES).optional(),
  breaker: breakerSettingsSchema.optional(),
})

export const updateNodeSchema = z.strictObject({
  breaker: breakerSettingsSchema,
})

/** `?from=&to=`: ISO 8601, Unix seconds or ms (timestamp-param.ts); empty values, as a form leaves them, are absent. */
export const usageQuerySchema = z.strictObject({
  from: timestampParam,
  to: timestampParam.refine((v) => v === undefined || v > 0, 'to must be after the epoch'),
})

export type CreateTenant = z.infer<typeof createTenantSchema>
export type UpdateTenant = z.infer<typeof updateTenantSchema>
export type CreateKey = z.infer<typeof createKeySchema>
export type RegisterNode = z.infer<typeof registerNodeSchema>
export type UpdateNode = z.infer<typeof updateNodeSchema>
