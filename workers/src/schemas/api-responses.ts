// Answer shapes of our own APIs (admin, usage, runner, registration, webhook), written as zod schemas beside the
// request schemas so the OpenAPI document (workers/src/openapi/) describes what the views in services/* return.
// Not parsed on the request path; workers/test/http/openapi.test.ts checks real answers against them.
import { z } from 'zod'
import { PLAN_NAMES } from '../../../durable-objects/tenant-gate/contract.ts'
import { NODE_ENGINES, NODE_STATUSES } from './node-ops.ts'

const ms = () => z.number().nonnegative().describe('milliseconds since the epoch')
const limits = z
  .record(z.string(), z.union([z.number().int().nonnegative(), z.string()]))
  .describe("overrides only; absent = the plan's value, 0 = unlimited; budget_usd is a decimal string of USD")

/** services/tenants/tenants.ts tenantView */
export const tenantSchema = z.strictObject({
  id: z.string(),
  object: z.literal('tenant'),
  name: z.string(),
  status: z.enum(['active', 'suspended']),
  status_reason: z.string().nullable(),
  plan: z.string().describe(`one of ${PLAN_NAMES.join(', ')} (or a plan a Stripe price maps to)`),
  limits,
  stripe_customer_id: z.string().nullable(),
  created_at: ms(),
  updated_at: ms().nullable().describe('null until the first change'),
})

/** services/keys/key-admin.ts keyView; `key` (the secret) only in the answer to its creation. */
export const apiKeySchema = z.strictObject({
  id: z.string(),
  object: z.literal('api_key'),
  tenant_id: z.string(),
  name: z.string().nullable(),
  prefix: z.string(),
  limits,
  created_at: ms(),
  revoked_at: ms().nullable(),
  key: z.string().optional().describe('the secret: returned once, by POST /admin/tenants/{id}/keys'),
})

const usageCounters = {
  requests: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
  cost_usd: z.string().describe("USD, an exact decimal string: the sum of each hourly row's cost rounded once to the micro-dollar"),
}

/** services/usage/usage-summary.ts: totals and one row per group (`start` for hour/day, else model/key_id/tenant_id). */
export const usageSummarySchema = z.strictObject({
  object: z.literal('usage'),
  tenant_id: z.string().optional(),
  from: ms().nullable(),
  to: ms().nullable(),
  group_by: z.enum(['hour', 'day', 'model', 'key', 'tenant']),
  totals: z.strictObject(usageCounters),
  data: z.array(
    z.strictObject({
      start: ms().optional(),
      model: z.string().optional(),
      key_id: z.string().nullable().optional(),
      tenant_id: z.string().optional(),
      ...usageCounters,
    }),
  ),
})

export const listOf = <T extends z.ZodType>(item: T) => z.strictObject({ object: z.literal('list'), data: z.array(item) })

/** 202 answers of POST /admin/nodes/launch, …/terminate, …/relaunch. */
export const nodeOperationSchema = z.strictObject({
  object: z.enum(['node.launch', 'node.terminate']),
  cluster_name: z.string(),
  node_id: z.string(),
  status: z.enum(NODE_STATUSES),
})

export const nodeRegistrationResultSchema = z.strictObject({
  object: z.literal('node.registration'),
  cluster_name: z.string(),
  node_id: z.string(),
  status: z.enum(NODE_STATUSES),
})

export const nodeDeletedSchema = z.strictObject({ id: z.string(), object: z.literal('node'), deleted: z.boolean(), status: z.literal('draining').optional() })

export const stripeWebhookResultSchema = z.strictObject({
  received: z.literal(true),
  id: z.string(),
  outcome: z.string(),
  duplicate: z.boolean(),
})

export const healthSchema = z.strictObject({ status: z.literal('ok') })

const nullableMs = () => ms().nullable()

/**
 * services/nodes/node-views.ts: nodeView (the D1 record), and for reads nodeDetailView, which adds what the
 * node's monitor knows (breaker, health, load; absent when the monitor could not be read).
 */
export const nodeSchema = z.strictObject({
  id: z.string(),
  object: z.literal('node'),
  name: z.string(),
  endpoint: z.string(),
  models: z.array(z.string()),
  status: z.enum(NODE_STATUSES),
  provider: z.string().nullable(),
  region: z.string().nullable(),
  gpu: z.string().nullable(),
  engine: z.enum(NODE_ENGINES),
  has_api_key: z.boolean(),
  last_error: z.string().nullable(),
  created_at: ms(),
  updated_at: nullableMs(),
  last_error_at: nullableMs().optional(),
  removing: z.boolean().optional(),
  breaker: z
    .strictObject({
      state: z.string().describe('closed, open or half_open'),
      since: nullableMs(),
      consecutive_failures: z.number().int().nonnegative(),
      retry_at: nullableMs(),
      probes_in_flight: z.number().int().nonnegative(),
      failure_threshold: z.number().int(),
      cooldown_ms: z.number().int(),
      half_open_probes: z.number().int(),
    })
    .optional(),
  health: z
    .strictObject({
      state: z.string(),
      since: nullableMs(),
      consecutive_failures: z.number().int().nonnegative(),
      last_check_at: nullableMs(),
      last_ok_at: nullableMs(),
      last_error: z.string().nullable(),
    })
    .optional(),
  in_flight: z.number().nullable().optional().describe("the node's own gauges (vLLM /metrics); null when it exposes none"),
  queue_depth: z.number().nullable().optional(),
  kv_cache_usage: z.number().nullable().optional(),
  metrics_at: nullableMs().optional(),
})

/** services/audit/audit-query.ts: one page, newest first; the next page's cursor is the last entry's id. */
export const auditPageSchema = z.strictObject({
  object: z.literal('list'),
  data: z.array(
    z.strictObject({
      id: z.number().int(),
      object: z.literal('audit_entry'),
      at: ms(),
      actor: z.string(),
      action: z.string(),
      target: z.string(),
      before: z.unknown(),
      after: z.unknown(),
      request_id: z.string().nullable(),
    }),
  ),
  has_more: z.boolean(),
})
