// Test helpers for billing in money: the ledger's raw rows of a tenant, and the cost the money model defines,
// recomputed from them independently of the rollup (README "Prices and the money model").
import { env } from 'cloudflare:workers'
import { expect } from 'vitest'
import { parseUsdToMicro } from '../../src/schemas/prices.ts'
import { admin, api } from './gateway.ts'

const HOUR = 3_600_000

/** Polls `usage_events` until the tenant has `count` rows (the queue consumer writes them), with these columns. */
export async function waitForUsageRows<Row>(tenantId: string, count: number, columns: readonly (keyof Row & string)[]): Promise<Row[]> {
  for (let i = 0; i < 400; i++) {
    const { results } = await env.DB.prepare(`SELECT ${columns.join(', ')} FROM usage_events WHERE tenant_id = ?`)
      .bind(tenantId)
      .all<Row>()
    if (results.length >= count) return results
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`usage events of ${tenantId} did not all arrive`)
}

type CostRow = {
  key_id: string
  model?: string
  created_at: number
  prompt_tokens: number
  cached_prompt_tokens?: number
  completion_tokens: number
}
/** Micro-dollars per million tokens; `cachedInput` absent: cached prompt tokens cost the input price. */
type RowPrice = { input: number; output: number; cachedInput?: number }

/**
 * Per (key, model, hour) and direction: Σ tokens × price in pico-dollars (the prompt direction Σ (prompt − cached) ×
 * input + cached × cached input), each rounded half up to the micro-dollar once, then summed.
 */
export function expectedMicroUsd(rows: readonly CostRow[], priceOf: (row: CostRow) => RowPrice): number {
  const sums = new Map<string, { prompt: bigint; completion: bigint }>()
  for (const r of rows) {
    const price = priceOf(r)
    const cached = r.cached_prompt_tokens ?? 0
    const key = `${r.key_id}|${r.model ?? ''}|${r.created_at - (r.created_at % HOUR)}`
    const s = sums.get(key) ?? { prompt: 0n, completion: 0n }
    s.prompt += BigInt(r.prompt_tokens - cached) * BigInt(price.input) + BigInt(cached) * BigInt(price.cachedInput ?? price.input)
    s.completion += BigInt(r.completion_tokens) * BigInt(price.output)
    sums.set(key, s)
  }
  const round = (pico: bigint) => (pico + 500_000n) / 1_000_000n
  let total = 0n
  for (const s of sums.values()) total += round(s.prompt) + round(s.completion)
  return Number(total)
}

/** An API's `cost_usd` as integer micro-dollars (fails the test on anything else). */
export const micro = (usd: string): number => {
  const v = parseUsdToMicro(usd)
  if (v === null) throw new Error(`not a USD amount: ${usd}`)
  return v
}

/** A 200 answer's JSON body. */
export const json = async <T>(res: Response): Promise<T> => {
  expect(res.status).toBe(200)
  return (await res.json()) as T
}

/**
 * Every view of the tenant's usage shows the same cost, `expectedMicro`: the key's /v1/usage grouped by day, hour,
 * model and key (totals and the sum of the rows), the admin summary by tenant, and the tenant's report (total and the
 * sum per model).
 */
export async function expectCostInEveryView(key: string, tenantId: string, expectedMicro: number): Promise<void> {
  type Summary = { totals: { cost_usd: string }; data: { cost_usd: string; tenant_id?: string }[] }
  for (const groupBy of ['day', 'hour', 'model', 'key']) {
    const view = await json<Summary>(await api(key, `/v1/usage?group_by=${groupBy}`))
    expect(micro(view.totals.cost_usd)).toBe(expectedMicro)
    expect(view.data.reduce((n, d) => n + micro(d.cost_usd), 0)).toBe(expectedMicro)
  }
  const all = await json<Summary>(await admin('/admin/usage?group_by=tenant'))
  expect(micro(all.data.find((d) => d.tenant_id === tenantId)?.cost_usd ?? 'none')).toBe(expectedMicro)
  const report = await json<{ cost_usd: string; by_model: { model: string; cost_usd: string }[] }>(await admin(`/admin/tenants/${tenantId}/usage`))
  expect(micro(report.cost_usd)).toBe(expectedMicro)
  expect(report.by_model.reduce((n, m) => n + micro(m.cost_usd), 0)).toBe(expectedMicro)
}
