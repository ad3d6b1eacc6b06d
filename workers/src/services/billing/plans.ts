// How a Stripe subscription names one of CIC's plans (the plans and their limits live with admission, in
// durable-objects/tenant-gate/plans.ts). Used by the webhook decision when a subscription is created or updated.
import { isPlanName, type PlanName } from '../../../../durable-objects/tenant-gate/contract.ts'

export { isPlanName, type PlanName }

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
