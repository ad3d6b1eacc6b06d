// The price book's admin API: PUT /admin/models/:model/price writes a version (model id URL-encoded, decimal
// strings, effective_from at least PRICE_MIN_LEAD_MS ahead, audited), GET lists them; budget_usd on a tenant.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { PRICE_MIN_LEAD_MS } from '../../src/services/billing/price-book.ts'
import { admin, call, seedTenant } from '../helpers/gateway.ts'
import { postToWorker, productionEnv } from '../helpers/production.ts'

const MODEL = 'Qwen/Qwen2.5-7B-Instruct'
const path = `/admin/models/${encodeURIComponent(MODEL)}/price`
const put = (json: unknown) => admin(path, { method: 'PUT', json })

describe('PUT /admin/models/:model/price', () => {
  it('writes a version ahead by the default lead, exactly, and lists it; the audit log has it', async () => {
    const before = Date.now()
    const res = await put({ input: '0.60', output: '2.4' })
    expect(res.status).toBe(200)
    const body = await res.json<{ input: string; output: string; effective_from: string; model: string }>()
    expect(body).toMatchObject({ object: 'model.price', model: MODEL, input: '0.600000', output: '2.400000' })
    expect(Date.parse(body.effective_from)).toBeGreaterThanOrEqual(before + PRICE_MIN_LEAD_MS)
    const row = await env.DB.prepare('SELECT input_micro_usd_per_mtok AS i, output_micro_usd_per_mtok AS o FROM model_prices WHERE model = ?')
      .bind(MODEL)
      .first<{ i: number; o: number }>()
    expect(row).toEqual({ i: 600_000, o: 2_400_000 })
    const list = await (await admin(path)).json<{ current: unknown; data: unknown[] }>()
    expect(list.current).toBeNull() // not in force yet
    expect(list.data).toHaveLength(1)
    const audit = await env.DB.prepare("SELECT target FROM audit_log WHERE action = 'model.price.put'").all<{ target: string }>()
    expect(audit.results.map((r) => r.target)).toContain(MODEL)
  })

  it('refuses a version that would apply before every cache has seen it, a float-looking or negative price, and unknown fields', async () => {
    const soon = await put({ input: '1', effective_from: new Date(Date.now() + 60_000).toISOString() })
    expect(soon.status).toBe(400)
    expect(await soon.json()).toMatchObject({ error: { param: 'effective_from', code: 'effective_from_too_soon' } })
    for (const bad of [{ input: 0.6 }, { input: '-1' }, { input: '1e3' }, { input: '0.0000001' }, { input: '1001' }, { input: '1', cache_input: '0.5' }]) {
      expect((await put(bad)).status).toBe(400)
    }
  })

  it('takes an optional cached_input (≤ input, exact), shows it in the history, and null when absent', async () => {
    const model = 'cached/model-a'
    const at = (minutes: number) => new Date(Date.now() + PRICE_MIN_LEAD_MS + minutes * 60_000).toISOString()
    const withCached = await admin(`/admin/models/${encodeURIComponent(model)}/price`, {
      method: 'PUT',
      json: { input: '0.60', output: '2.4', cached_input: '0.150001', effective_from: at(1) },
    })
    expect(withCached.status).toBe(200)
    expect(await withCached.json()).toMatchObject({ input: '0.600000', cached_input: '0.150001' })
    const without = await admin(`/admin/models/${encodeURIComponent(model)}/price`, { method: 'PUT', json: { input: '0.70', effective_from: at(2) } })
    expect(await without.json()).toMatchObject({ input: '0.700000', cached_input: null })
    const rows = await env.DB.prepare('SELECT cached_input_micro_usd_per_mtok AS c FROM model_prices WHERE model = ? ORDER BY effective_from')
      .bind(model)
      .all<{ c: number | null }>()
    expect(rows.results).toEqual([{ c: 150_001 }, { c: null }])
    const history = await (await admin(`/admin/models/${encodeURIComponent(model)}/price`)).json<{ data: { cached_input: string | null }[] }>()
    expect(history.data.map((v) => v.cached_input)).toEqual(['0.150001', null])
    // Above input: admission holds prompt tokens at the input price, which would then not bound the bill.
    const above = await admin(`/admin/models/${encodeURIComponent(model)}/price`, { method: 'PUT', json: { input: '0.60', cached_input: '0.600001' } })
    expect(above.status).toBe(400)
    expect(await above.json()).toMatchObject({ error: { param: 'cached_input', code: 'cached_input_above_input' } })
    for (const bad of [
      { input: '1', cached_input: 0.5 },
      { input: '1', cached_input: '-0.1' },
      { input: '1', cached_input: '0.0000001' },
    ]) {
      expect((await put(bad)).status).toBe(400)
    }
  })

  it('needs the admin token', async () => {
    expect((await call(path)).status).toBe(401)
    expect((await call(path, { method: 'PUT', json: { input: '1' } })).status).toBe(401)
  })
})

describe('budget_usd', () => {
  it('is a decimal string in the API, integer micro-dollars in D1 and the admission object, and null removes it', async () => {
    const { tenantId } = await seedTenant()
    const res = await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { limits: { budget_usd: '12.345678' } } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ limits: { budget_usd: '12.345678' } })
    const row = await env.DB.prepare('SELECT limits FROM tenants WHERE id = ?').bind(tenantId).first<{ limits: string }>()
    expect(JSON.parse(row?.limits ?? '{}')).toEqual({ budget_micro_usd: 12_345_678 })
    const gate = await (await admin(`/admin/tenants/${tenantId}/admission`)).json<{ limits: { budgetMicroUsd: number } }>()
    expect(gate.limits.budgetMicroUsd).toBe(12_345_678)
    expect((await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { limits: { budget_usd: 1 } } })).status).toBe(400)
    const cleared = await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { limits: { budget_usd: null } } })
    expect(await cleared.json()).toMatchObject({ limits: {} })
  })
})

describe('a model without a price', () => {
  it('is refused before admission in production-like environments (404 model_not_priced), and takes no slot', async () => {
    const { tenantId, key } = await seedTenant()
    const json = { model: 'unpriced-llm', messages: [{ role: 'user', content: 'hi' }] }
    const res = await postToWorker(productionEnv(), '/v1/chat/completions', json, `Bearer ${key}`)
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: { code: 'model_not_priced', param: 'model' } })
    expect(await (await admin(`/admin/tenants/${tenantId}/admission`)).json()).toMatchObject({ requestsInWindow: 0, inFlight: 0 })
  })
})
