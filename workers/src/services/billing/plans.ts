// CIC's plans and their limits, and how a Stripe subscription names one. Used by the webhook decision when a
// subscription is created or updated. Limit keys are the admin API's (rpm, tpm, concurrency, key_rpm; 0 = unlimited).
import type { TenantLimits } from '../../schemas/admin.ts'

export const PLANS = {
  free: { rpm: 20, tpm: 20_000, concurrency: 2, key_rpm: 20 },
  starter: { rpm: 120, tpm: 200_000, concurrency: 8, key_rpm: 120 },
  pro: { rpm: 600, tpm: 2_000_000, concurrency: 32, key_rpm: 600 },
  enterprise: { rpm: 0, tpm: 0, concurrency: 128, key_rpm: 0 },
} as const satisfies Record<string, Required<TenantLimits>>

export type PlanName = keyof typeof PLANS

export const isPlanName = (name: string): name is PlanName => Object.hasOwn(PLANS, name)

export function planLimits(plan: PlanName): Record<string, number> {
  return { ...PLANS[plan] }
}

/** The parts of a Stripe subscription that can name a plan. */
export type PlanSource = {
  metadata: Record<string, string>
  prices: { lookupKey: string | null; metadata: Record<string, string> }[]
}

/**
 * First match wins: subscription metadata `cic_plan`, then each item's price `lookup_key` (`pro` or `cic_pro`),
 * then the price's metadata `cic_plan`. Unknown names are ignored (null: the tenant keeps its plan).
 */
export function planFromSubscription(source: PlanSource): PlanName | null {
  const candidates = [
    source.metadata.cic_plan,
    ...source.prices.map((p) => p.lookupKey?.replace(/^cic_/, '')),
    ...source.prices.map((p) => p.metadata.cic_plan),
  ]
  for (const c of candidates) {
    const name = c?.trim().toLowerCase()
    if (name && isPlanName(name)) return name
  }
  return null
}
