// Tenant records: D1 is the record; every change is pushed to the tenant's admission object, which decides
// on the request path. The object is written first, so a refused change never leaves admission more
// permissive than D1 says (an admin retry converges both).
import { desc, eq } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { tenants, type TenantRow } from '../../db/schema.ts'
import type { CreateTenant, TenantLimitsPatch, UpdateTenant } from '../../schemas/admin.ts'
import { auditStatement } from '../audit/audit-entry.ts'

export type Actor = { actor: string; requestId: string }

export const tenantView = (t: TenantRow) => ({
  id: t.id, object: 'tenant', name: t.name, status: t.status, status_reason: t.statusReason, plan: t.plan,
  limits: t.limits, stripe_customer_id: t.stripeCustomerId, created_at: t.createdAt, updated_at: t.updatedAt,
})

export const newId = (prefix: string) => `${prefix}_${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`

const gateOf = (env: Env, tenantId: string) => env.TENANT_GATE.getByName(`tenant:${tenantId}`)

/** Pushes a tenant's status, reason, plan and limits to its admission object (also used by the Stripe webhook). */
export async function syncGate(env: Env, t: TenantRow) {
  await gateOf(env, t.id).configure({ tenantId: t.id, status: t.status, statusReason: t.statusReason, plan: t.plan, limits: t.limits })
}

/** A PATCH of limit overrides: present values replace, null removes (the plan's value applies again). */
function mergeLimits(before: Record<string, number>, patch: TenantLimitsPatch): Record<string, number> {
  const after = { ...before }
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete after[name]
    else if (value !== undefined) after[name] = value
  }
  return after
}

/** What the tenant's admission object sees now: limits in force, last minute's usage, requests in flight, budget. */
export const admissionState = (env: Env, tenantId: string) => gateOf(env, tenantId).inspect()

export async function createTenant(env: Env, db: Db, input: CreateTenant, by: Actor): Promise<TenantRow> {
  const row: TenantRow = {
    id: newId('ten'), name: input.name, status: 'active', statusReason: null, plan: input.plan ?? 'default',
    limits: input.limits ?? {}, stripeCustomerId: input.stripe_customer_id ?? null, createdAt: Date.now(), updatedAt: null,
  }
  await syncGate(env, row)
  await db.batch([
    db.insert(tenants).values(row),
    auditStatement(db, { ...by, action: 'tenant.create', target: row.id, after: tenantView(row) }),
  ])
  return row
}

export const listTenants = (db: Db) => db.select().from(tenants).orderBy(desc(tenants.createdAt)).all()
export const getTenant = (db: Db, id: string) => db.select().from(tenants).where(eq(tenants.id, id)).get()

export async function updateTenant(env: Env, db: Db, before: TenantRow, input: UpdateTenant, by: Actor): Promise<TenantRow> {
  const after: TenantRow = {
    ...before,
    name: input.name ?? before.name,
    plan: input.plan ?? before.plan,
    status: input.status ?? before.status,
    statusReason: input.status_reason !== undefined ? input.status_reason : input.status === 'active' ? null : before.statusReason,
    limits: input.limits ? mergeLimits(before.limits, input.limits) : before.limits,
    stripeCustomerId: input.stripe_customer_id !== undefined ? input.stripe_customer_id : before.stripeCustomerId,
    updatedAt: Date.now(),
  }
  await syncGate(env, after)
  const { id, createdAt, ...changes } = after
  await db.batch([
    db.update(tenants).set(changes).where(eq(tenants.id, id)),
    auditStatement(db, { ...by, action: 'tenant.update', target: id, before: tenantView(before), after: tenantView(after) }),
  ])
  void createdAt
  return after
}
