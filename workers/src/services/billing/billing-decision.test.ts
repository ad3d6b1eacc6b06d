import { describe, expect, it } from 'vitest'
import type { BillingObjectRow, TenantRow } from '../../db/schema.ts'
import { BILLING_REASONS, decide, type Decidable } from './billing-decision.ts'
import { planFromSubscription } from './plans.ts'

const tenant = (over: Partial<TenantRow> = {}): TenantRow => ({
  id: 'ten_1',
  name: 't',
  status: 'active',
  statusReason: null,
  plan: 'default',
  limits: {},
  stripeCustomerId: 'cus_1',
  createdAt: 1,
  updatedAt: null,
  ...over,
})
const payment = (outcome: 'succeeded' | 'failed', created: number): Decidable => ({
  kind: 'payment',
  id: `evt_${created}`,
  type: 'payment_intent.x',
  created,
  customerId: 'cus_1',
  objectId: 'pi_1',
  outcome,
})
const subscription = (id: string, created: number, over: { isEnded?: boolean; plan?: string } = {}): Decidable => ({
  kind: 'subscription',
  id: `evt_${id}_${created}`,
  type: 'customer.subscription.updated',
  created,
  customerId: 'cus_1',
  objectId: id,
  isEnded: over.isEnded ?? false,
  isCreation: false,
  tenantHint: null,
  planSource: { metadata: over.plan ? { cic_plan: over.plan } : {}, prices: [] },
})
const row = (objectKey: string, state: BillingObjectRow['state'], eventCreated: number, plan: string | null = null): BillingObjectRow => ({
  tenantId: 'ten_1',
  objectKey,
  state,
  plan,
  eventId: 'evt',
  eventCreated,
  updatedAt: 0,
})

function applied(d: ReturnType<typeof decide>) {
  if (d.outcome !== 'applied') throw new Error('expected applied')
  return d
}

describe('decide', () => {
  it('is stale only when strictly older than the last applied event of the same object', () => {
    expect(decide(tenant(), [row('payment', 'failed', 100)], payment('succeeded', 99))).toEqual({ outcome: 'stale' })
    expect(decide(tenant(), [row('payment', 'failed', 100)], payment('succeeded', 100)).outcome).toBe('applied')
    expect(decide(tenant(), [row('subscription:sub_old', 'ended', 500)], subscription('sub_new', 100)).outcome).toBe('applied')
  })

  it('keeps the tenant suspended, with the right reason, while a subscription is still ended', () => {
    const t = tenant({ status: 'suspended', statusReason: BILLING_REASONS.paymentFailed })
    const d = applied(decide(t, [row('payment', 'failed', 1), row('subscription:sub_1', 'ended', 2)], payment('succeeded', 3)))
    expect(d.tenant).toMatchObject({ status: 'suspended', statusReason: BILLING_REASONS.subscriptionEnded })
  })

  it('lets an admin reactivation hold through unrelated events, until the next bad one', () => {
    const rows = [row('payment', 'failed', 10)]
    expect(applied(decide(tenant(), rows, subscription('sub_1', 20, { plan: 'pro' }))).tenant.status).toBe('active')
    expect(applied(decide(tenant(), rows, payment('failed', 30))).tenant).toMatchObject({ status: 'suspended', statusReason: BILLING_REASONS.paymentFailed })
  })

  it("clears per-tenant overrides only when the plan changes (the new plan's limits apply), keeping them otherwise", () => {
    const d = applied(decide(tenant({ limits: { rpm: 7 } }), [], subscription('sub_1', 1, { plan: 'pro' })))
    expect(d.tenant).toMatchObject({ plan: 'pro', limits: {} })
    const custom = tenant({ plan: 'pro', limits: { rpm: 5 } })
    const same = applied(decide(custom, [row('subscription:sub_1', 'active', 1, 'pro')], subscription('sub_1', 2, { plan: 'pro' })))
    expect(same.tenant.limits).toEqual({ rpm: 5 })
    expect(same.isTenantChanged).toBe(false)
  })
})

describe('planFromSubscription', () => {
  it('reads subscription metadata, then lookup keys (with or without cic_), then price metadata', () => {
    expect(planFromSubscription({ metadata: { cic_plan: 'Pro' }, prices: [{ lookupKey: 'starter', metadata: {} }] })).toBe('pro')
    expect(planFromSubscription({ metadata: {}, prices: [{ lookupKey: 'cic_starter', metadata: {} }] })).toBe('starter')
    expect(planFromSubscription({ metadata: {}, prices: [{ lookupKey: null, metadata: { cic_plan: 'enterprise' } }] })).toBe('enterprise')
    expect(planFromSubscription({ metadata: { cic_plan: 'toString' }, prices: [{ lookupKey: 'gold', metadata: {} }] })).toBeNull()
  })
})
