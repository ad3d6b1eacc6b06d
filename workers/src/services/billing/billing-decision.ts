// The pure decision behind a Stripe event: given a tenant, the last applied event per Stripe object and a new
// event, is it stale, and what does the tenant become? No I/O (unit-tested); stripe-webhook.ts does the writes.
//
// Objects: `payment` (the tenant's payment standing: the latest payment_intent outcome across its intents) and
// `subscription:<id>` (each subscription on its own, so a new subscription is not shadowed by an old one's later
// deletion). An event older than the last one applied to its object is stale and changes nothing.
import type { BillingObjectRow, TenantRow } from '../../db/schema.ts'
import type { BillingEvent } from '../../schemas/stripe.ts'
import { isPlanName, planFromSubscription, type PlanName } from './plans.ts'

/** Suspension reasons billing owns; the admission object says "This account is suspended: <reason>." */
export const BILLING_REASONS = {
  paymentFailed: 'payment failed; update the payment method to restore access',
  subscriptionEnded: 'the subscription has ended',
} as const
const OWNED_REASONS: ReadonlySet<string> = new Set(Object.values(BILLING_REASONS))

export type ObjectState = { key: string; state: 'succeeded' | 'failed' | 'active' | 'ended'; plan: PlanName | null; created: number }
export type Decidable = Extract<BillingEvent, { kind: 'payment' | 'subscription' }>

export type Decision = { outcome: 'stale' } | { outcome: 'applied'; object: ObjectState; tenant: TenantRow; isTenantChanged: boolean; isGateChanged: boolean }

export const objectKey = (e: Decidable) => (e.kind === 'payment' ? 'payment' : `subscription:${e.objectId}`)

function objectFor(e: Decidable): ObjectState {
  if (e.kind === 'payment') return { key: objectKey(e), state: e.outcome, plan: null, created: e.created }
  return { key: objectKey(e), state: e.isEnded ? 'ended' : 'active', plan: planFromSubscription(e.planSource), created: e.created }
}

const fromRow = (r: BillingObjectRow): ObjectState => ({
  key: r.objectKey,
  state: r.state,
  plan: r.plan !== null && isPlanName(r.plan) ? r.plan : null,
  created: r.eventCreated,
})

/** Why billing wants the tenant suspended, or null. A failed last payment wins over an ended subscription. */
export function billingSuspension(objects: readonly ObjectState[]): string | null {
  if (objects.find((o) => o.key === 'payment')?.state === 'failed') return BILLING_REASONS.paymentFailed
  const subs = objects.filter((o) => o.key.startsWith('subscription:'))
  if (subs.length > 0 && subs.every((s) => s.state === 'ended')) return BILLING_REASONS.subscriptionEnded
  return null
}

/** The plan of the most recently changed live subscription that names a known plan. */
function effectivePlan(objects: readonly ObjectState[]): PlanName | null {
  const live = objects.filter((o) => o.key.startsWith('subscription:') && o.state === 'active' && o.plan)
  live.sort((a, b) => b.created - a.created)
  return live[0]?.plan ?? null
}

/**
 * Status rules: a bad event (payment failed, subscription ended) suspends an active tenant; once nothing in
 * billing asks for a suspension, a suspension billing made is lifted. A suspension billing did not make (an
 * admin's, with another reason) is never touched, and an admin's reactivation holds until the next bad event.
 * A plan change sets the plan's limits (replacing per-tenant overrides); the same plan leaves limits alone.
 */
export function decide(tenant: TenantRow, rows: readonly BillingObjectRow[], event: Decidable): Decision {
  const object = objectFor(event)
  const current = rows.map(fromRow)
  const previous = current.find((o) => o.key === object.key)
  // Equal seconds are not "older": Stripe's `created` has 1 s resolution; the later delivery wins the tie.
  if (previous && event.created < previous.created) return { outcome: 'stale' }
  const next = [...current.filter((o) => o.key !== object.key), object]

  let { status, statusReason, plan, limits } = tenant
  const isBillingSuspended = status === 'suspended' && statusReason !== null && OWNED_REASONS.has(statusReason)
  const wanted = billingSuspension(next)
  const isBadEvent = object.state === 'failed' || object.state === 'ended'
  if (wanted === null) {
    if (isBillingSuspended) [status, statusReason] = ['active', null]
  } else if (isBillingSuspended) {
    statusReason = wanted
  } else if (isBadEvent && status === 'active') {
    ;[status, statusReason] = ['suspended', wanted]
  }

  const newPlan = effectivePlan(next)
  // A new plan brings its own limits: the tenant's overrides are cleared (an admin can set them again).
  if (newPlan && newPlan !== plan) [plan, limits] = [newPlan, {}]

  const isGateChanged = status !== tenant.status || statusReason !== tenant.statusReason || limits !== tenant.limits
  const isTenantChanged = isGateChanged || plan !== tenant.plan
  return { outcome: 'applied', object, tenant: { ...tenant, status, statusReason, plan, limits }, isTenantChanged, isGateChanged }
}
