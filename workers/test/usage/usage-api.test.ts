// GET /v1/usage (a tenant's own usage) and GET /admin/usage (all tenants), read from the hourly rollup that
// the queue consumer maintains. Usage is written through the real consumer, then read over HTTP.
import { describe, expect, it } from 'vitest'
import type { UsageEvent } from '../../src/schemas/usage-event.ts'
import { admin, api, call, seedTenant } from '../helpers/gateway.ts'
import { BASE_HOUR, deliver, sumOf, usageEvent } from '../helpers/usage.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR

type Bucket = { requests: number; errors: number; prompt_tokens: number; completion_tokens: number; total_tokens: number }
type Summary = { tenant_id?: string; group_by: string; totals: Bucket; data: (Bucket & Record<string, unknown>)[] }

/** A tenant with a real key and `n` events spread over keys, models and three hours, plus one a day later. */
async function tenantWithUsage(n: number) {
  const tenant = await seedTenant()
  const second = await seedTenant() // only for a second real key id of the same shape; its tenant is unused
  const keys = [tenant.keyId, second.keyId]
  const events: UsageEvent[] = Array.from({ length: n }, (_, i) => usageEvent(tenant.tenantId, i, { keyId: keys[i % 2] ?? tenant.keyId }))
  events.push(usageEvent(tenant.tenantId, n, { keyId: tenant.keyId, createdAt: BASE_HOUR + DAY, outcome: 'completed' }))
  await deliver(events)
  return { ...tenant, events }
}

const totalsOf = (events: UsageEvent[]) => {
  const prompt = sumOf(events, (e) => e.promptTokens)
  const completion = sumOf(events, (e) => e.completionTokens)
  return {
    requests: events.length,
    errors: events.filter((e) => e.outcome !== 'completed').length,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cost_usd: '0.000000', // these models have no price (free outside production-like environments): billing/money-*.test.ts prices them
  }
}

describe('GET /v1/usage', () => {
  it("returns only the calling tenant's usage, grouped by day by default", async () => {
    const mine = await tenantWithUsage(20)
    const other = await tenantWithUsage(7)
    const res = await api(mine.key, '/v1/usage')
    expect(res.status).toBe(200)
    const body = (await res.json()) as Summary
    expect(body).toMatchObject({ object: 'usage', tenant_id: mine.tenantId, group_by: 'day', totals: totalsOf(mine.events) })
    expect(body.data.map((d) => d.start)).toEqual([BASE_HOUR - (BASE_HOUR % DAY), BASE_HOUR - (BASE_HOUR % DAY) + DAY])
    expect(sumOf(body.data, (d) => d.requests)).toBe(21)
    const theirs = (await (await api(other.key, '/v1/usage')).json()) as Summary
    expect(theirs.totals).toEqual(totalsOf(other.events))
  })

  it('groups by hour, model and key, each adding up to the same totals', async () => {
    const { key, events } = await tenantWithUsage(30)
    const expected = totalsOf(events)
    for (const [groupBy, field, count] of [
      ['hour', 'start', 4],
      ['model', 'model', 2],
      ['key', 'key_id', 2],
    ] as const) {
      const body = (await (await api(key, `/v1/usage?group_by=${groupBy}`)).json()) as Summary
      expect(body.group_by).toBe(groupBy)
      expect(body.data).toHaveLength(count)
      expect(body.data.every((d) => d[field] !== undefined)).toBe(true)
      expect(sumOf(body.data, (d) => d.completion_tokens)).toBe(expected.completion_tokens)
      expect(sumOf(body.data, (d) => d.errors)).toBe(expected.errors)
    }
    const byModel = (await (await api(key, '/v1/usage?group_by=model')).json()) as Summary
    expect(byModel.data[0]).toMatchObject({ model: 'model-0', ...totalsOf(events.filter((e) => e.model === 'model-0')) })
  })

  it('counts the hours that start inside [from, to)', async () => {
    const { key, events } = await tenantWithUsage(30)
    const from = BASE_HOUR + HOUR
    const to = BASE_HOUR + 2 * HOUR
    const body = (await (await api(key, `/v1/usage?from=${from}&to=${to}&group_by=hour`)).json()) as Summary
    expect(body).toMatchObject({ from, to, data: [{ start: from }] })
    expect(body.totals).toEqual(totalsOf(events.filter((e) => e.createdAt >= from && e.createdAt < to)))
  })

  it('rejects bad parameters with a 400 naming the parameter', async () => {
    const { key } = await seedTenant()
    for (const [query, param] of [
      ['group_by=week', 'group_by'],
      ['from=yesterday', 'from'],
      ['from=10&to=5', 'to'],
      ['tenant=other', null],
    ] as const) {
      const res = await api(key, `/v1/usage?${query}`)
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param } })
    }
  })

  it('refuses a missing, unknown or revoked key', async () => {
    expect((await call('/v1/usage')).status).toBe(401)
    expect((await api('sk-cic-not-a-real-key-000000000000', '/v1/usage')).status).toBe(401)
    const admin401 = await call('/v1/usage', { headers: { authorization: 'Bearer test-admin-token-0123456789' } })
    expect(admin401.status).toBe(401) // the admin token is not a tenant key
    const { key, keyId } = await seedTenant()
    expect((await admin(`/admin/keys/${keyId}`, { method: 'DELETE' })).status).toBeLessThan(300)
    const res = await api(key, '/v1/usage')
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key' } })
  })
})

describe('GET /admin/usage', () => {
  it('reports every tenant, grouped by tenant by default', async () => {
    const a = await tenantWithUsage(12)
    const b = await tenantWithUsage(5)
    const body = (await (await admin('/admin/usage')).json()) as Summary
    expect(body.tenant_id).toBeUndefined()
    expect(body.data.find((d) => d.tenant_id === a.tenantId)).toMatchObject(totalsOf(a.events))
    expect(body.data.find((d) => d.tenant_id === b.tenantId)).toMatchObject(totalsOf(b.events))
    expect(body.totals.requests).toBe(sumOf(body.data, (d) => d.requests))
  })

  it('filters by time and groups by model', async () => {
    const a = await tenantWithUsage(9)
    const from = BASE_HOUR + DAY
    const byTenant = (await (await admin(`/admin/usage?from=${from}`)).json()) as Summary
    expect(byTenant.data.find((d) => d.tenant_id === a.tenantId)).toMatchObject(totalsOf(a.events.filter((e) => e.createdAt >= from)))
    const byModel = (await (await admin(`/admin/usage?from=${from}&group_by=model`)).json()) as Summary
    expect(byModel.group_by).toBe('model')
    expect(byModel.totals).toEqual(byTenant.totals)
    expect(sumOf(byModel.data, (d) => d.requests)).toBe(byTenant.totals.requests)
    expect(byModel.data.every((d) => typeof d.model === 'string')).toBe(true)
  })

  it('needs the admin token', async () => {
    const { key } = await seedTenant()
    expect((await call('/admin/usage')).status).toBe(401)
    expect((await api(key, '/admin/usage')).status).toBe(401)
    expect((await admin('/admin/usage?group_by=key')).status).toBe(400)
  })
})
