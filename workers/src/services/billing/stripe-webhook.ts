// Applies a verified Stripe event exactly once. Called by the webhook route.
//
// One D1 batch() holds the webhook_events row (first, plain INSERT: a concurrent duplicate fails the whole batch
// on the primary key), the tenant update, the per-object "last applied" row and the audit row. The tenant update
// is a compare-and-swap: it sets `status` to NULL (NOT NULL violation, batch rolled back) when the tenant changed
// since we read it, and we decide again from fresh state. Then the tenant's admission object is configured; if
// that fails we answer 500, Stripe redelivers, and the duplicate path re-syncs the object from D1.
import { and, asc, eq, gte, isNull, lt, or, sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../db/client.ts'
import { createDb } from '../../db/client.ts'
import { billedPeriods, billingObjects, meterPushes, tenants, webhookEvents, type TenantRow } from '../../db/schema.ts'
import { log } from '../../log.ts'
import { parseBillingEvent, type BillingEvent, type EventEnvelope } from '../../schemas/stripe.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import { getTenant, syncGate, tenantView } from '../tenants/tenant-record.ts'
import { decide } from './billing-decision.ts'

export type WebhookOutcome = 'applied' | 'stale' | 'unknown_customer' | 'ignored' | 'invalid'
export type WebhookResult = { outcome: WebhookOutcome; isDuplicate: boolean; tenantId: string | null }

type Statement = BatchItem<'sqlite'>
type Plan = { outcome: WebhookOutcome; tenantId: string | null; statements: [Statement, ...Statement[]]; gate: TenantRow | null; isLinked?: boolean }
/** The webhook_events statement of a plan: first in its batch, so a conflict on it aborts the whole change. */
type Recorder = (tenantId: string | null, outcome: WebhookOutcome) => Statement

/** A live delivery: a plain INSERT (a concurrent duplicate fails the batch on the primary key). */
const insertRecord =
  (db: Db, event: BillingEvent, payload: string): Recorder =>
  (tenantId, outcome) =>
    db.insert(webhookEvents).values({
      id: event.id,
      type: event.type,
      created: event.created,
      processedAt: Date.now(),
      tenantId,
      outcome,
      payload,
    })

/** A stored unknown_customer event decided again: only while it still says so (else NOT NULL aborts the batch). */
const reRecord =
  (db: Db, eventId: string): Recorder =>
  (tenantId, outcome) =>
    db
      .update(webhookEvents)
      .set({
        outcome: sql`CASE WHEN ${webhookEvents.outcome} = 'unknown_customer' THEN ${outcome} ELSE NULL END`,
        tenantId,
        processedAt: Date.now(),
      })
      .where(eq(webhookEvents.id, eventId))

const MAX_ATTEMPTS = 4

export async function applyStripeEvent(env: Env, event: BillingEvent, payload: string, requestId: string): Promise<WebhookResult> {
  const db = createDb(env.DB)
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const seen = await db
      .select({ outcome: webhookEvents.outcome, tenantId: webhookEvents.tenantId })
      .from(webhookEvents)
      .where(eq(webhookEvents.id, event.id))
      .get()
    if (seen) return duplicate(env, db, seen, requestId)
    const plan = await planEvent(db, event, requestId, insertRecord(db, event, payload))
    try {
      await db.batch(plan.statements)
    } catch (err) {
      const conflict = conflictKind(err)
      if (!conflict) throw err
      log.warn('stripe_webhook_conflict', { eventId: event.id, conflict, attempt })
      continue // a duplicate is found by the next read; a changed tenant is decided again
    }
    if (plan.gate) await syncGate(env, plan.gate)
    // The customer is known from now on: what Stripe sent about it before is applied, in order, after this event.
    if (plan.isLinked && plan.tenantId) await replayUnknownCustomerEvents(env, plan.tenantId, requestId)
    return { outcome: plan.outcome, isDuplicate: false, tenantId: plan.tenantId }
  }
  throw new Error(`Stripe event ${event.id}: tenant kept changing during ${MAX_ATTEMPTS} attempts`)
}

/**
 * Applies the tenant's stored `unknown_customer` events (Stripe sent them before the customer was mapped to the
 * tenant), oldest `created` first, through the same decision as a live event: one that is older than what its
 * object already has is `stale`. Each row is re-decided only while it still says unknown_customer, so concurrent
 * replays apply an event once. Called whenever a tenant gets a stripe_customer_id: by the webhook path
 * (customer.subscription.created with cic_tenant_id) and by the admin paths (services/tenants/tenants.ts).
 */
export async function replayUnknownCustomerEvents(env: Env, tenantId: string, requestId = 'replay'): Promise<{ replayed: number }> {
  const db = createDb(env.DB)
  const tenant = await getTenant(db, tenantId)
  const customer = tenant?.stripeCustomerId
  if (!customer) return { replayed: 0 }
  const rows = await db
    .select({ id: webhookEvents.id, payload: webhookEvents.payload })
    .from(webhookEvents)
    // A literal, not a bound parameter, so SQLite can use the partial index on unknown_customer rows.
    .where(
      and(
        sql`${webhookEvents.outcome} = 'unknown_customer'`,
        or(
          sql`json_extract(${webhookEvents.payload}, '$.data.object.customer') = ${customer}`,
          sql`json_extract(${webhookEvents.payload}, '$.data.object.customer.id') = ${customer}`, // an expanded customer
        ),
      ),
    )
    .orderBy(asc(webhookEvents.created), asc(webhookEvents.id))
    .all()
  let replayed = 0
  for (const row of rows) {
    const parsed = parseBillingEvent(JSON.parse(row.payload))
    if (!parsed.ok || parsed.event.kind === 'other') continue // stored after our schema accepted it: not expected
    const outcome = await reapply(env, db, parsed.event, requestId)
    if (outcome) {
      replayed++
      log.info('stripe_webhook_replayed', { eventId: row.id, tenantId, outcome })
    }
  }
  return { replayed }
}

/** One stored event decided again; null when another replay got to it first or it is still unknown. */
async function reapply(env: Env, db: Db, event: BillingEvent, requestId: string): Promise<WebhookOutcome | null> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const plan = await planEvent(db, event, requestId, reRecord(db, event.id))
    if (plan.outcome === 'unknown_customer') return null
    try {
      await db.batch(plan.statements)
    } catch (err) {
      const conflict = conflictKind(err)
      if (conflict === 'already_decided') return null
      if (conflict !== 'tenant_changed') throw err
      continue
    }
    if (plan.gate) await syncGate(env, plan.gate)
    return plan.outcome
  }
  throw new Error(`Stripe event ${event.id}: tenant kept changing during ${MAX_ATTEMPTS} replay attempts`)
}

/**
 * A redelivery changes nothing in D1. If its effect was applied, the admission object is configured again from
 * D1: the first delivery may have written D1 and then failed to reach the object (it answered 500 for that), or
 * failed while replaying the customer's earlier events.
 */
async function duplicate(env: Env, db: Db, seen: { outcome: string; tenantId: string | null }, requestId: string): Promise<WebhookResult> {
  if (seen.outcome === 'applied' && seen.tenantId) {
    const tenant = await getTenant(db, seen.tenantId)
    if (tenant) await syncGate(env, tenant)
    // Also finishes a replay of earlier unknown_customer events that the first delivery did not get through.
    if (tenant?.stripeCustomerId) await replayUnknownCustomerEvents(env, tenant.id, requestId)
  }
  return { outcome: toOutcome(seen.outcome), isDuplicate: true, tenantId: seen.tenantId }
}

const toOutcome = (s: string): WebhookOutcome => (s === 'applied' || s === 'stale' || s === 'unknown_customer' || s === 'invalid' ? s : 'ignored')

/**
 * A signed event of a type we act on whose object failed our schema: stored (outcome `invalid`, with its payload,
 * for a person to look at) and acknowledged. Answering 400 would make Stripe retry it for days and then disable
 * the endpoint, for an event that can never parse.
 */
export async function recordInvalidStripeEvent(env: Env, envelope: EventEnvelope, payload: string): Promise<WebhookResult> {
  const db = createDb(env.DB)
  const inserted = await db
    .insert(webhookEvents)
    .values({
      id: envelope.id,
      type: envelope.type,
      created: envelope.created,
      processedAt: Date.now(),
      tenantId: null,
      outcome: 'invalid',
      payload,
    })
    .onConflictDoNothing()
    .returning({ id: webhookEvents.id })
  if (inserted.length > 0) return { outcome: 'invalid', isDuplicate: false, tenantId: null }
  const seen = await db
    .select({ outcome: webhookEvents.outcome, tenantId: webhookEvents.tenantId })
    .from(webhookEvents)
    .where(eq(webhookEvents.id, envelope.id))
    .get()
  return { outcome: toOutcome(seen?.outcome ?? 'invalid'), isDuplicate: true, tenantId: seen?.tenantId ?? null }
}

async function planEvent(db: Db, event: BillingEvent, requestId: string, record: Recorder): Promise<Plan> {
  if (event.kind === 'other') return { outcome: 'ignored', tenantId: null, statements: [record(null, 'ignored')], gate: null }
  const found = await findTenant(db, event)
  if (!found) return { outcome: 'unknown_customer', tenantId: null, statements: [record(null, 'unknown_customer')], gate: null }
  const { tenant, linkedCustomer } = found

  if (event.kind === 'invoice_paid') {
    return { outcome: 'applied', tenantId: tenant.id, gate: null, statements: [record(tenant.id, 'applied'), ...markBilled(db, tenant.id, event)] }
  }

  const rows = await db.select().from(billingObjects).where(eq(billingObjects.tenantId, tenant.id)).all()
  const decision = decide(tenant, rows, event)
  if (decision.outcome === 'stale') return { outcome: 'stale', tenantId: tenant.id, statements: [record(tenant.id, 'stale')], gate: null }

  const after: TenantRow = {
    ...decision.tenant,
    stripeCustomerId: linkedCustomer ?? decision.tenant.stripeCustomerId,
    // Always bumped (strictly), so a concurrent event for this tenant fails its compare-and-swap and re-decides.
    updatedAt: Math.max(Date.now(), (tenant.updatedAt ?? 0) + 1),
  }
  const { object } = decision
  const statements: [Statement, ...Statement[]] = [
    record(tenant.id, 'applied'),
    compareAndSwapTenant(db, tenant, after),
    db
      .insert(billingObjects)
      .values({
        tenantId: tenant.id,
        objectKey: object.key,
        state: object.state,
        plan: object.plan,
        eventId: event.id,
        eventCreated: event.created,
        updatedAt: Date.now(),
      })
      .onConflictDoUpdate({
        target: [billingObjects.tenantId, billingObjects.objectKey],
        set: { state: object.state, plan: object.plan, eventId: event.id, eventCreated: event.created, updatedAt: Date.now() },
        setWhere: sql`${billingObjects.eventCreated} <= ${event.created}`,
      }),
  ]
  if (decision.isTenantChanged || linkedCustomer) {
    statements.push(
      auditStatement(db, {
        actor: `stripe:${event.id}`,
        action: `tenant.billing.${event.type}`,
        target: tenant.id,
        before: tenantView(tenant),
        after: tenantView(after),
        requestId,
      }),
    )
  }
  return { outcome: 'applied', tenantId: tenant.id, statements, gate: decision.isGateChanged ? after : null, isLinked: linkedCustomer !== null }
}

/** The tenant of the event's customer; `customer.subscription.created` may link one via metadata `cic_tenant_id`. */
async function findTenant(db: Db, event: Exclude<BillingEvent, { kind: 'other' }>): Promise<{ tenant: TenantRow; linkedCustomer: string | null } | null> {
  if (!event.customerId) return null
  const tenant = await db.select().from(tenants).where(eq(tenants.stripeCustomerId, event.customerId)).get()
  if (tenant) return { tenant, linkedCustomer: null }
  if (event.kind !== 'subscription' || !event.isCreation || !event.tenantHint) return null
  const hinted = await getTenant(db, event.tenantHint)
  return hinted && hinted.stripeCustomerId === null ? { tenant: hinted, linkedCustomer: event.customerId } : null
}

/** Writes `after` only if the tenant still is what `before` was; otherwise aborts the batch (status NOT NULL). */
function compareAndSwapTenant(db: Db, before: TenantRow, after: TenantRow) {
  const unchanged = sql`${tenants.status} IS ${before.status} AND ${tenants.statusReason} IS ${before.statusReason}
    AND ${tenants.plan} IS ${before.plan} AND ${tenants.stripeCustomerId} IS ${before.stripeCustomerId}
    AND ${tenants.updatedAt} IS ${before.updatedAt}`
  return db
    .update(tenants)
    .set({
      status: sql`CASE WHEN ${unchanged} THEN ${after.status} ELSE NULL END`,
      statusReason: after.statusReason,
      plan: after.plan,
      limits: after.limits,
      stripeCustomerId: after.stripeCustomerId,
      updatedAt: after.updatedAt,
    })
    .where(eq(tenants.id, before.id))
}

function markBilled(db: Db, tenantId: string, e: Extract<BillingEvent, { kind: 'invoice_paid' }>): Statement[] {
  return [
    db
      .insert(billedPeriods)
      .values({
        invoiceId: e.objectId,
        tenantId,
        periodStart: e.periodStartMs,
        periodEnd: e.periodEndMs,
        amountPaid: e.amountPaid,
        currency: e.currency,
        eventId: e.id,
        billedAt: Date.now(),
      })
      .onConflictDoNothing(),
    db
      .update(meterPushes)
      .set({ invoiceId: e.objectId })
      .where(
        and(
          eq(meterPushes.tenantId, tenantId),
          gte(meterPushes.hourStart, e.periodStartMs),
          lt(meterPushes.hourStart, e.periodEndMs),
          isNull(meterPushes.invoiceId),
        ),
      ),
  ]
}

/** Which race made a batch fail: another delivery or replay of this event, or a concurrent tenant change. */
function conflictKind(err: unknown): 'duplicate' | 'already_decided' | 'tenant_changed' | null {
  const text = errorText(err)
  if (/UNIQUE constraint failed: webhook_events\.id/.test(text)) return 'duplicate'
  if (/NOT NULL constraint failed: webhook_events\.outcome/.test(text)) return 'already_decided'
  if (/NOT NULL constraint failed: tenants\.status/.test(text)) return 'tenant_changed'
  return null
}

function errorText(err: unknown): string {
  const parts: string[] = []
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : String(e))
    e = e instanceof Error ? e.cause : undefined
  }
  return parts.join(' | ')
}
