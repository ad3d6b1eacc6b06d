// Tenant records: D1 is the record; every change is pushed to the tenant's admission object, which decides
// on the request path. The object is written first, so a refused change never leaves admission more
// permissive than D1 says (an admin retry converges both). An update is a compare-and-swap on updated_at, and
// the object ignores configurations older than its own, so a concurrent writer (the billing webhook) is never
// overwritten from a stale read.
import { desc, eq, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { tenants, type TenantRow } from '../../db/schema.ts'
import type { CreateTenant, TenantLimitsPatch, UpdateTenant } from '../../schemas/admin.ts'
import { ApiError } from '../../errors.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import { replayUnknownCustomerEvents } from '../billing/stripe-webhook.ts'
import { gateOf, getTenant, syncGate, tenantView } from './tenant-record.ts'

export type Actor = { actor: string; requestId: string }

export const newId = (prefix: string) => `${prefix}_${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`

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
    id: newId('ten'),
    name: input.name,
    status: 'active',
    statusReason: null,
    plan: input.plan ?? 'default',
    limits: input.limits ?? {},
    stripeCustomerId: input.stripe_customer_id ?? null,
    createdAt: Date.now(),
    updatedAt: null,
  }
  await syncGate(env, row)
  await db.batch([db.insert(tenants).values(row), auditStatement(db, { ...by, action: 'tenant.create', target: row.id, after: tenantView(row) })])
  return applyWaitingBillingEvents(env, db, row, by)
}

/**
 * Stripe events that arrived before their customer was linked to a tenant were stored as unknown_customer:
 * apply them now, oldest first, through the webhook's own decision code. Cheap when there are none (one indexed
 * read) and idempotent, so it runs on every write that leaves the tenant with a customer: a retried PATCH after a
 * failed replay replays again. Returns the tenant as it is afterwards (a replayed event may have changed it).
 */
async function applyWaitingBillingEvents(env: Env, db: Db, tenant: TenantRow, by: Actor): Promise<TenantRow> {
  if (!tenant.stripeCustomerId) return tenant
  const { replayed } = await replayUnknownCustomerEvents(env, tenant.id, by.requestId)
  return replayed > 0 ? ((await getTenant(db, tenant.id)) ?? tenant) : tenant
}

export const listTenants = (db: Db) => db.select().from(tenants).orderBy(desc(tenants.createdAt)).all()

/** Tries of an update whose tenant keeps changing under it before answering 409. */
const UPDATE_ATTEMPTS = 3

/**
 * Applies an admin PATCH to the tenant as it is in D1 when written: a compare-and-swap on updated_at, re-read
 * and re-applied when another writer (a billing webhook) changed the tenant since `first` was read.
 * Throws ApiError conflict (409, which the SDKs retry) if it kept changing, after re-pushing D1's row to the object.
 */
export async function updateTenant(env: Env, db: Db, first: TenantRow, input: UpdateTenant, by: Actor): Promise<TenantRow> {
  let before = first
  for (let attempt = 1; ; attempt++) {
    const after = patchedTenant(before, input)
    await syncGate(env, after)
    const { id, createdAt, ...changes } = after
    void createdAt
    try {
      await db.batch([
        db
          .update(tenants)
          .set({ ...changes, status: unlessChanged(before, after.status) })
          .where(eq(tenants.id, id)),
        auditStatement(db, { ...by, action: 'tenant.update', target: id, before: tenantView(before), after: tenantView(after) }),
      ])
      return applyWaitingBillingEvents(env, db, after, by)
    } catch (err) {
      if (!isTenantChanged(err)) throw err
    }
    const current = await getTenant(db, before.id)
    if (!current) throw new ApiError('not_found', `No tenant with id '${before.id}'.`, { code: 'tenant_not_found', param: 'id' })
    if (attempt >= UPDATE_ATTEMPTS) {
      // The object may hold our unwritten `after`: put D1's row back, stamped so that it is not ignored as older.
      await syncGate(env, { ...current, updatedAt: Math.max(current.updatedAt ?? 0, after.updatedAt ?? 0) })
      throw new ApiError('conflict', 'The tenant was changed by another request meanwhile; retry.', { code: 'tenant_changed' })
    }
    before = current
  }
}

function patchedTenant(before: TenantRow, input: UpdateTenant): TenantRow {
  return {
    ...before,
    name: input.name ?? before.name,
    plan: input.plan ?? before.plan,
    status: input.status ?? before.status,
    statusReason: input.status_reason !== undefined ? input.status_reason : input.status === 'active' ? null : before.statusReason,
    limits: input.limits ? mergeLimits(before.limits, input.limits) : before.limits,
    stripeCustomerId: input.stripe_customer_id !== undefined ? input.stripe_customer_id : before.stripeCustomerId,
    // Strictly after the row it replaces, even if this clock is behind the last writer's.
    updatedAt: Math.max(Date.now(), (before.updatedAt ?? 0) + 1),
  }
}

/**
 * The new status if the row still has `before`'s updated_at, else NULL, which the NOT NULL column refuses: the
 * whole batch (audit row included) aborts, as the billing webhook's compare-and-swap does.
 */
const unlessChanged = (before: TenantRow, status: TenantRow['status']) =>
  sql<TenantRow['status']>`CASE WHEN ${tenants.updatedAt} IS ${before.updatedAt} THEN ${status} ELSE NULL END`

function isTenantChanged(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    if (/NOT NULL constraint failed: tenants\.status/.test(e instanceof Error ? e.message : String(e))) return true
    e = e instanceof Error ? e.cause : undefined
  }
  return false
}
