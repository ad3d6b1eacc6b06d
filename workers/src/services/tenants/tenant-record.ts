// A tenant's D1 row as read and shown, and its push to the tenant's admission object: the pieces both the admin
// API (tenants.ts) and the Stripe webhook (billing/stripe-webhook.ts) use, kept apart so neither imports the other.
import { eq } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { tenants, type TenantRow } from '../../db/schema.ts'
import { tenantGateName } from '../../../../durable-objects/tenant-gate/contract.ts'
import { formatMicroUsd } from '../../schemas/prices.ts'

export const tenantView = (t: TenantRow) => ({
  id: t.id,
  object: 'tenant',
  name: t.name,
  status: t.status,
  status_reason: t.statusReason,
  plan: t.plan,
  limits: limitsView(t.limits),
  stripe_customer_id: t.stripeCustomerId,
  created_at: t.createdAt,
  updated_at: t.updatedAt,
})

/** Limits as the API shows them: a money budget as budget_usd, a decimal string (stored as micro-dollars). */
function limitsView({ budget_micro_usd, ...rest }: Record<string, number>) {
  return budget_micro_usd === undefined ? rest : { ...rest, budget_usd: formatMicroUsd(budget_micro_usd) }
}

export const gateOf = (env: Env, tenantId: string) => env.TENANT_GATE.getByName(tenantGateName(tenantId))

/** Pushes a tenant's status, reason, plan and limits to its admission object (also used by the Stripe webhook). */
export async function syncGate(env: Env, t: TenantRow) {
  await gateOf(env, t.id).configure({ tenantId: t.id, status: t.status, statusReason: t.statusReason, plan: t.plan, limits: t.limits, updatedAt: t.updatedAt })
}

export const getTenant = (db: Db, id: string) => db.select().from(tenants).where(eq(tenants.id, id)).get()
