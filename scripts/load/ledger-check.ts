// After the run: did the usage ledger count every request that reached a node exactly once? Waits for the
// usage queue to drain (polls each tenant's usage until it has at least what the client expects and stops
// changing), then compares requests, and tokens where the client saw every answer's usage, per tenant. The
// tenants' usage before the run is the baseline, so reused tenants (--skip-setup) work too.
import { tenantUsage, type Admin, type TenantUsage } from './admin-client.ts'
import { disposition } from './classify.ts'
import type { LoadTarget } from './mix.ts'
import type { Outcome } from './send-request.ts'

export type LedgerExpectation = {
  /** Requests that certainly reached a node: each must be in the ledger. */
  min: number
  /** Plus those the client cannot place (unknown, unrouted after a retry): the ledger may hold them. */
  max: number
  /** Prompt + completion tokens of the answers, or null when some reached request's usage is unknown to the client. */
  tokens: number | null
}

export function expectLedger(outcomes: readonly Outcome[], tenants: number): LedgerExpectation[] {
  const result = Array.from({ length: tenants }, (): LedgerExpectation => ({ min: 0, max: 0, tokens: 0 }))
  for (const o of outcomes) {
    const e = result[o.spec.tenant]!
    const d = disposition(o)
    if (d === 'reached') {
      e.min++
      e.max++
      e.tokens = o.usage && e.tokens !== null ? e.tokens + o.usage.promptTokens + o.usage.completionTokens : null
    } else if (d === 'unknown' || d === 'unrouted') {
      e.max++ // a 503 after a failed attempt still has that attempt's usage event
    }
  }
  return result
}

export type LedgerTenantResult = {
  tenant: string
  expected: { min: number; max: number }
  counted: number
  tokens: { client: number | null; ledger: number }
  ok: boolean
}
export type LedgerResult = { ok: boolean; exact: boolean; waitedMs: number; tenants: LedgerTenantResult[] }

const usedTokens = (u: TenantUsage) => u.prompt_tokens + u.completion_tokens

export function readBaseline(admin: Admin, target: LoadTarget): Promise<TenantUsage[]> {
  return Promise.all(target.tenants.map((t) => tenantUsage(admin, t.id)))
}

export function judgeLedger(
  target: LoadTarget,
  expected: readonly LedgerExpectation[],
  baseline: readonly TenantUsage[],
  after: readonly TenantUsage[],
  waitedMs: number,
): LedgerResult {
  const tenants = target.tenants.map((t, i): LedgerTenantResult => {
    const e = expected[i]!
    const counted = after[i]!.requests - baseline[i]!.requests
    const ledgerTokens = usedTokens(after[i]!) - usedTokens(baseline[i]!)
    const tokensOk = e.tokens === null || e.min !== e.max || ledgerTokens === e.tokens
    return {
      tenant: t.name,
      expected: { min: e.min, max: e.max },
      counted,
      tokens: { client: e.tokens, ledger: ledgerTokens },
      ok: counted >= e.min && counted <= e.max && tokensOk,
    }
  })
  return { ok: tenants.every((t) => t.ok), exact: expected.every((e) => e.min === e.max), waitedMs, tenants }
}

/**
 * Polls until every tenant has at least its minimum and nothing changed for `settleMs` (a late duplicate
 * would show), or `timeoutMs` passed; then judges the last reading.
 */
export async function checkLedger(
  admin: Admin,
  target: LoadTarget,
  expected: readonly LedgerExpectation[],
  baseline: readonly TenantUsage[],
  { timeoutMs = 60_000, pollMs = 500, settleMs = 2_000 } = {},
): Promise<LedgerResult> {
  const started = Date.now()
  let last = ''
  let stableSince = Date.now()
  for (;;) {
    const after = await readBaseline(admin, target)
    const reading = JSON.stringify(after)
    if (reading !== last) {
      last = reading
      stableSince = Date.now()
    }
    const reachedMin = after.every((u, i) => u.requests - baseline[i]!.requests >= expected[i]!.min)
    const waitedMs = Date.now() - started
    if ((reachedMin && Date.now() - stableSince >= settleMs) || waitedMs > timeoutMs) return judgeLedger(target, expected, baseline, after, waitedMs)
    await new Promise((r) => setTimeout(r, pollMs))
  }
}
