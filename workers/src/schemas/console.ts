// The console's JSON API (/dashboard/api/*): request bodies, query strings and answers, as zod schemas. The
// contract between the console server (routes/console/) and the browser app (public/dashboard/); described in
// docs/console-api.md and published in the OpenAPI document (openapi/paths-console.ts).
import { z } from 'zod'
import { PLAN_NAMES } from '../../../durable-objects/tenant-gate/contract.ts'
import { timestampParam } from './timestamp-param.ts'

const ms = () => z.number().nonnegative().describe('milliseconds since the epoch')

export const TENANT_ROLES = ['tenant_admin', 'tenant_member'] as const
export type TenantRole = (typeof TENANT_ROLES)[number]
export const tenantRoleSchema = z.enum(TENANT_ROLES)

/** Console ids in paths: our own ids (`ten_…`, `key_…`, `usr_…`, `inv_…`); anything else is a 404/403 before any read. */
export const CONSOLE_ID = /^[a-z]{3}_[A-Za-z0-9]{1,64}$/

// ---- requests -------------------------------------------------------------------------------------------------

/** GET /dashboard/login?return_to=: a same-origin path under /dashboard (anything else becomes /dashboard). */
export const loginQuerySchema = z.object({ return_to: z.string().max(2000).optional() })

/** POST /dashboard/api/tenants (operator) */
export const consoleCreateTenantSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  plan: z.enum(PLAN_NAMES).optional(),
})

/** POST /dashboard/api/tenants/:tenantId/keys */
export const consoleCreateKeySchema = z.strictObject({ name: z.string().trim().min(1).max(200) })

/** POST /dashboard/api/tenants/:tenantId/invites */
export const createInviteSchema = z.strictObject({
  email: z
    .email()
    .max(320)
    .transform((e) => e.toLowerCase()),
  role: tenantRoleSchema,
})

/** POST /dashboard/api/tenants/:tenantId/billing/checkout: a plan with a Stripe price (lookup key `cic_<plan>`). */
export const checkoutSchema = z.strictObject({ plan: z.enum(PLAN_NAMES) })

/** Time zone names as the browser reports them (Intl.DateTimeFormat().resolvedOptions().timeZone). */
const timeZone = z
  .string()
  .max(64)
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz })
      return true
    } catch {
      return false
    }
  }, 'must be an IANA time zone such as Europe/Paris')

/** Longest range of one usage query: 93 days of hourly rollups (2,232 hours). */
export const USAGE_MAX_RANGE_MS = 93 * 86_400_000

/**
 * GET /dashboard/api/tenants/:tenantId/usage and usage.csv. start/end as in the admin API (ISO 8601, Unix s or ms);
 * default the last 24 h; `end` exclusive. Buckets are hours, or days starting at local midnight in `tz`.
 */
export const consoleUsageQuerySchema = z
  .strictObject({
    start: timestampParam,
    end: timestampParam,
    granularity: z.enum(['hour', 'day']).default('hour'),
    tz: timeZone.default('UTC'),
    group_by: z.enum(['model', 'key']).optional(),
  })
  .refine((q) => q.start === undefined || q.end === undefined || q.start < q.end, { message: 'end must be after start', path: ['end'] })
export type ConsoleUsageQuery = z.infer<typeof consoleUsageQuerySchema>

/** GET /dashboard/api/audit (operator): the admin audit query (from/to, exact actor/target, limit, cursor). */
export { auditQuerySchema as consoleAuditQuerySchema } from './audit-query.ts'

/** POST /dashboard/api/dead-letters/replay (operator) */
export const consoleReplaySchema = z.strictObject({
  kind: z.enum(['usage', 'node_ops']),
  ids: z.array(z.string().min(1).max(300)).min(1).max(100).optional(),
  limit: z.number().int().min(1).max(100).default(100),
})

// ---- answers --------------------------------------------------------------------------------------------------

export const membershipSchema = z.strictObject({ tenant_id: z.string(), tenant_name: z.string(), role: tenantRoleSchema })

/** GET /dashboard/api/me */
export const meSchema = z.strictObject({
  user: z.strictObject({ id: z.string(), email: z.string(), name: z.string().nullable() }),
  operator: z.boolean(),
  memberships: z.array(membershipSchema),
  csrf_token: z.string().describe('send as x-csrf-token on every POST/DELETE under /dashboard'),
})

export const consoleTenantSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  plan: z.string(),
  status: z.enum(['active', 'suspended']),
  role: z.enum(['operator', ...TENANT_ROLES]).describe("the caller's role in this tenant"),
})

/** GET /dashboard/api/tenants */
export const tenantListSchema = z.strictObject({ tenants: z.array(consoleTenantSchema) })

const limitNumber = z.number().nonnegative().describe('0 = unlimited')

/** GET /dashboard/api/tenants/:tenantId */
export const tenantDetailSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  plan: z.string(),
  status: z.enum(['active', 'suspended']),
  status_reason: z.string().nullable(),
  role: z.enum(['operator', ...TENANT_ROLES]),
  limits: z.strictObject({ rpm: limitNumber, tpm: limitNumber, concurrency: limitNumber, key_rpm: limitNumber, budget_tokens: limitNumber }),
  current: z.strictObject({
    requests_last_minute: z.number().nonnegative(),
    tokens_last_minute: z.number().nonnegative(),
    in_flight: z.number().nonnegative(),
    budget_used: z.number().nonnegative().describe('tokens of this calendar month (UTC) held or used; 0 when the tenant has no budget'),
  }),
  billing: z.strictObject({ stripe_customer_id: z.string().nullable(), has_billing_account: z.boolean() }),
})

const usageCounters = {
  requests: z.number().int().nonnegative(),
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
}

const costUsd = z
  .string()
  .regex(/^\d+\.\d{6}$/)
  .describe('exact decimal string of USD (six decimals), the sum of the hourly rollups’ rounded costs, as GET /v1/usage')

/** GET /dashboard/api/tenants/:tenantId/usage */
export const consoleUsageSchema = z.strictObject({
  start: ms(),
  end: ms(),
  granularity: z.enum(['hour', 'day']),
  tz: z.string(),
  group_by: z.enum(['model', 'key']).nullable(),
  totals: z.strictObject({ ...usageCounters, cost_usd: costUsd }),
  series: z.array(
    z.strictObject({
      bucket_start: z.string().describe('ISO 8601 (UTC) start of the hour, or of the local day in tz'),
      group: z.string().optional().describe('the model, or the key id, when group_by is set'),
      ...usageCounters,
      cost_usd: costUsd,
    }),
  ),
})

export const consoleKeySchema = z.strictObject({
  id: z.string(),
  name: z.string().nullable(),
  prefix: z.string(),
  created_at: ms(),
  created_by: z.string().nullable().describe('user id of the console user who created it; null for keys made with the admin token'),
  revoked_at: ms().nullable(),
  can_revoke: z.boolean().describe('whether the caller may revoke it'),
})

/** GET /dashboard/api/tenants/:tenantId/keys */
export const keyListSchema = z.strictObject({ keys: z.array(consoleKeySchema) })

/** POST /dashboard/api/tenants/:tenantId/keys: the secret, once. */
export const createdKeySchema = z.strictObject({ id: z.string(), name: z.string().nullable(), prefix: z.string(), key: z.string() })

export const revokedKeySchema = z.strictObject({ id: z.string(), revoked: z.literal(true) })

export const inviteSchema = z.strictObject({
  id: z.string(),
  email: z.string(),
  role: tenantRoleSchema,
  created_at: ms(),
  expires_at: ms(),
  created_by: z.string().describe('email of the inviter'),
})

/** GET /dashboard/api/tenants/:tenantId/members: pending invites carry no URL (only the token's hash is stored); empty for members. */
export const membersSchema = z.strictObject({
  members: z.array(z.strictObject({ user_id: z.string(), email: z.string(), name: z.string().nullable(), role: tenantRoleSchema, created_at: ms() })),
  invites: z.array(inviteSchema),
})

/** POST /dashboard/api/tenants/:tenantId/invites: the link, once (no mailer: the inviter sends it). */
export const createdInviteSchema = inviteSchema.extend({ invite_url: z.string() })

export const deletedSchema = z.strictObject({ id: z.string(), deleted: z.literal(true) })

/** POST …/billing/checkout and …/billing/portal: the Stripe-hosted page to send the browser to. */
export const redirectUrlSchema = z.strictObject({ url: z.string() })

export const okSchema = z.strictObject({ ok: z.literal(true) })

/** GET /dashboard/api/overview (operator): what the old operator page showed, in one call. */
export const overviewSchema = z.strictObject({
  tenants: z.number().int().nonnegative(),
  nodes_by_status: z.record(z.string(), z.number().int().nonnegative()),
  usage_last_24h: z.strictObject(usageCounters),
  usage_by_hour: z.array(z.strictObject({ start: ms(), ...usageCounters })),
  dead_letters_pending: z.strictObject({ usage: z.number().int().nonnegative(), node_ops: z.number().int().nonnegative() }),
})
