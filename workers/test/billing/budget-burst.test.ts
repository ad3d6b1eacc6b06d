// Monthly budgets under a concurrent burst five times larger than the budget allows, end to end (gateway, TenantGate,
// stand-in node, usage queue, D1): a $1.00 money budget and a token budget are each charged at most their amount,
// and the tenant is then refused with 429 insufficient_quota and x-should-retry: false. The burst's requests each
// really use what they are allowed (max_tokens = the stand-in's natural answer), so the real cost is close to the
// worst case and the budget is spent, not refused early.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { admin, api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { seedPrice } from '../helpers/prices.ts'

const MODEL = 'cic-demo-llm'
/** $1/M input, $1,000/M output (the highest price accepted): each request costs about 16,000 micro-dollars. */
const PRICE = { input: 1_000_000, output: 1_000_000_000 }
/** The stand-in's natural answer is 16 tokens: asking for 16 makes every request use its whole allowance. */
const MAX_TOKENS = 16
const BUDGET_MICRO_USD = 1_000_000

type Admission = { inFlight: number; budget: { committed: number; reserved: number; committedMicroUsd: number; reservedMicroUsd: number } }

beforeAll(async () => {
  await registerNode(inject('standins').healthy, [MODEL])
  await seedPrice(MODEL, PRICE.input, PRICE.output)
})

const chat = () => ({ model: MODEL, messages: [{ role: 'user', content: 'spend my budget' }], max_tokens: MAX_TOKENS })
const post = (key: string) => api(key, '/v1/chat/completions', { method: 'POST', json: chat() })
const admission = async (tenantId: string) => (await (await admin(`/admin/tenants/${tenantId}/admission`)).json()) as Admission

/** Waits until nothing is in flight or held (every settle applied) and the ledger has `count` rows. */
async function settled(tenantId: string, count: number): Promise<Admission> {
  for (let i = 0; i < 400; i++) {
    const state = await admission(tenantId)
    const rows = await env.DB.prepare('SELECT count(*) AS n FROM usage_events WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>()
    if (state.inFlight === 0 && state.budget.reserved === 0 && state.budget.reservedMicroUsd === 0 && rows?.n === count) return state
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('the tenant never settled')
}

/**
 * The burst, then one request at a time until the budget refuses for good. A retryable 429 (a concurrency slot,
 * budget held by requests in flight) is tried again shortly; the last answer is returned.
 */
async function spend(key: string, burst: number): Promise<{ admitted: number; last: Response; burstStatuses: number[] }> {
  const answers = await Promise.all(Array.from({ length: burst }, () => post(key)))
  const burstStatuses = answers.map((r) => r.status)
  let admitted = 0
  for (const r of answers) {
    if (r.status === 200) admitted++
    await r.text()
  }
  for (let i = 0; i < 400; i++) {
    const res = await post(key)
    if (res.status === 200) {
      admitted++
      await res.text()
      continue
    }
    const body = (await res.clone().json()) as { error: { code: string } }
    if (body.error.code === 'insufficient_quota') return { admitted, last: res, burstStatuses }
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('the budget never refused')
}

async function expectQuotaRefusal(res: Response, unit: string) {
  expect(res.status).toBe(429)
  expect(res.headers.get('x-should-retry')).toBe('false')
  expect(await res.json()).toMatchObject({ error: { type: 'insufficient_quota', code: 'insufficient_quota', message: expect.stringContaining(unit) } })
}

describe('budgets under a concurrent burst five times too large', () => {
  it('charges a $1.00 money budget at most $1.00, then refuses with insufficient_quota', async () => {
    const { tenantId, key } = await seedTenant()
    const patched = await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { limits: { budget_usd: '1.00' } } })
    expect(patched.status).toBe(200)
    expect(await patched.json()).toMatchObject({ limits: { budget_usd: '1.000000' } })
    // What one request really costs: a first one, alone.
    const first = await post(key)
    expect(first.status).toBe(200)
    const { usage } = (await first.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }
    expect(usage.completion_tokens).toBe(MAX_TOKENS)
    const perRequest = Math.ceil((usage.prompt_tokens * PRICE.input) / 1e6) + Math.ceil((usage.completion_tokens * PRICE.output) / 1e6)
    const burst = 5 * Math.ceil(BUDGET_MICRO_USD / perRequest)

    const { admitted, last, burstStatuses } = await spend(key, burst)
    await expectQuotaRefusal(last, '$1.000000')
    expect(burstStatuses.every((s) => s === 200 || s === 429)).toBe(true)
    const state = await settled(tenantId, admitted + 1)
    const { micro } = (await env.DB.prepare(
      `SELECT sum((prompt_cost_pico_usd + 500000) / 1000000 + (completion_cost_pico_usd + 500000) / 1000000) AS micro
       FROM usage_hourly WHERE tenant_id = ?`,
    )
      .bind(tenantId)
      .first<{ micro: number }>()) ?? { micro: -1 }
    // Charged at most the budget: what the ledger bills never passes what the object committed, nor that the budget.
    expect(micro).toBeLessThanOrEqual(state.budget.committedMicroUsd)
    expect(state.budget.committedMicroUsd).toBeLessThanOrEqual(BUDGET_MICRO_USD)
    // And the budget was spent, not refused early: what is left cannot hold one more request's worst case.
    expect(micro).toBeGreaterThan(BUDGET_MICRO_USD - 2 * perRequest - 2_000)
    // 50 % and 80 % were crossed, each reported once (audit row, counted by cic_budget_threshold_crossings_total).
    let crossed: { threshold_percent: number; unit: string }[] = []
    for (let i = 0; i < 200 && crossed.length < 2; i++) {
      const { results } = await env.DB.prepare("SELECT after FROM audit_log WHERE target = ? AND action = 'tenant.budget_threshold' ORDER BY id")
        .bind(tenantId)
        .all<{ after: string }>()
      crossed = results.map((r) => JSON.parse(r.after) as { threshold_percent: number; unit: string })
      if (crossed.length < 2) await new Promise((r) => setTimeout(r, 25))
    }
    expect(crossed.map((c) => [c.unit, c.threshold_percent])).toEqual([
      ['micro_usd', 50],
      ['micro_usd', 80],
    ])
  }, 60_000)

  it('charges a token budget at most its tokens, then refuses with insufficient_quota', async () => {
    const budgetTokens = 1_300
    const { tenantId, key } = await seedTenant({ budget_tokens: budgetTokens })
    const first = await post(key)
    expect(first.status).toBe(200)
    const { usage } = (await first.json()) as { usage: { total_tokens: number } }
    const burst = 5 * Math.ceil(budgetTokens / usage.total_tokens)

    const { admitted, last } = await spend(key, burst)
    await expectQuotaRefusal(last, 'token budget')
    const state = await settled(tenantId, admitted + 1)
    const { tokens } = (await env.DB.prepare('SELECT sum(prompt_tokens + completion_tokens) AS tokens FROM usage_hourly WHERE tenant_id = ?')
      .bind(tenantId)
      .first<{ tokens: number }>()) ?? { tokens: -1 }
    expect(tokens).toBe(state.budget.committed)
    expect(tokens).toBeLessThanOrEqual(budgetTokens)
    expect(admitted + 1).toBeGreaterThan(1)
  }, 60_000)
})
