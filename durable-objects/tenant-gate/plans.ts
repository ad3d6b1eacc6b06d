// Plans and the limits a tenant's admission object enforces: plan defaults, overridden per tenant (admin
// PATCH /admin/tenants/:id {limits}) and per key (rpm, set at key creation). Pure; used by the object and by
// the admin schema (plan names). A limit of 0 means unlimited.

/** Limits as stored in D1 (`tenants.limits`, `api_keys.limits`): snake_case, every field optional. */
export type LimitOverrides = Partial<Record<'rpm' | 'tpm' | 'concurrency' | 'key_rpm' | 'budget_tokens' | 'budget_micro_usd', number>>

/** What admission enforces for one request. All 0 = unlimited. */
export type Limits = {
  /** Requests per rolling minute, whole tenant (layer 2). */
  rpm: number
  /** Tokens per rolling minute, whole tenant, by reservation (layer 3). */
  tpm: number
  /** Requests in flight at once (layer 4). */
  concurrency: number
  /** Requests per rolling minute for the calling key (layer 1). */
  keyRpm: number
  /** Tokens per calendar month (UTC), reserved and settled like TPM. */
  budgetTokens: number
  /** Micro-dollars per calendar month (UTC) at the models' prices (the API's budget_usd), held like budgetTokens. */
  budgetMicroUsd: number
}

export const PLANS = {
  free: { rpm: 20, tpm: 40_000, concurrency: 2, keyRpm: 0, budgetTokens: 1_000_000, budgetMicroUsd: 0 },
  // Generous on purpose: a tenant created without a plan must not be surprised by limits it never chose.
  default: { rpm: 3_000, tpm: 2_000_000, concurrency: 128, keyRpm: 0, budgetTokens: 0, budgetMicroUsd: 0 },
  starter: { rpm: 120, tpm: 200_000, concurrency: 8, keyRpm: 0, budgetTokens: 0, budgetMicroUsd: 0 },
  pro: { rpm: 10_000, tpm: 10_000_000, concurrency: 512, keyRpm: 0, budgetTokens: 0, budgetMicroUsd: 0 },
  /** No limits unless the tenant's overrides set them. */
  enterprise: { rpm: 0, tpm: 0, concurrency: 0, keyRpm: 0, budgetTokens: 0, budgetMicroUsd: 0 },
} as const satisfies Record<string, Limits>

export type PlanName = keyof typeof PLANS
export const PLAN_NAMES = Object.keys(PLANS) as [PlanName, ...PlanName[]]

export const isPlanName = (name: string): name is PlanName => Object.hasOwn(PLANS, name)
const pick = (override: number | undefined, fallback: number) => (override === undefined ? fallback : override)

/** The tenant's limits: each override present wins over the plan (0 included, which lifts the limit). */
export function tenantLimits(plan: string, overrides: LimitOverrides): Limits {
  const base: Limits = PLANS[isPlanName(plan) ? plan : 'default']
  return {
    rpm: pick(overrides.rpm, base.rpm),
    tpm: pick(overrides.tpm, base.tpm),
    concurrency: pick(overrides.concurrency, base.concurrency),
    keyRpm: pick(overrides.key_rpm, base.keyRpm),
    budgetTokens: pick(overrides.budget_tokens, base.budgetTokens),
    budgetMicroUsd: pick(overrides.budget_micro_usd, base.budgetMicroUsd),
  }
}

/** Whether a monthly budget (tokens or money) applies: its decisions are money, written before they are answered. */
export const hasBudget = (l: Limits): boolean => l.budgetTokens > 0 || l.budgetMicroUsd > 0

/** The limits for one request: the key's own rpm (set at its creation) wins over the tenant's key_rpm. */
export function requestLimits(tenant: Limits, keyOverrides: LimitOverrides): Limits {
  return { ...tenant, keyRpm: pick(keyOverrides.rpm, tenant.keyRpm) }
}
