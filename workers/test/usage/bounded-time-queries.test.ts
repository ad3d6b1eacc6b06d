// The time ranges of the usage and audit queries take ISO 8601, Unix seconds or milliseconds alike (a bare
// number below 1e11 is seconds): the same window written three ways gives the same answer on every route, and
// a value that is none of them is a 400 naming the parameter.
import { describe, expect, it } from 'vitest'
import { admin, api, seedTenant } from '../helpers/gateway.ts'
import { BASE_HOUR, deliver, usageEvent } from '../helpers/usage.ts'

const HOUR = 3_600_000
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')
/** The same [from, to) written as milliseconds, Unix seconds, ISO 8601, and a mix. */
const forms = (from: number, to: number) => [
  `from=${from}&to=${to}`,
  `from=${from / 1000}&to=${to / 1000}`,
  `from=${iso(from)}&to=${iso(to)}`,
  `from=${iso(from)}&to=${to / 1000}`,
  `from=${encodeURIComponent(new Date(from).toISOString().replace('Z', '+00:00'))}&to=${to}`,
]

describe('time ranges in usage and audit queries', () => {
  it('give the same window written as ms, seconds or ISO 8601 on every usage route', async () => {
    const { tenantId, key } = await seedTenant()
    await deliver(Array.from({ length: 9 }, (_, i) => usageEvent(tenantId, i)))
    const from = BASE_HOUR + HOUR
    const to = BASE_HOUR + 2 * HOUR
    const routes = [
      (q: string) => api(key, `/v1/usage?group_by=hour&${q}`),
      (q: string) => admin(`/admin/usage?group_by=hour&${q}`),
      (q: string) => admin(`/admin/tenants/${tenantId}/usage?${q}`),
      (q: string) => admin(`/admin/usage/reconcile?${q}`),
    ]
    for (const route of routes) {
      const answers = []
      for (const q of forms(from, to)) {
        const res = await route(q)
        expect(res.status, q).toBe(200)
        answers.push(await res.json())
      }
      expect(JSON.stringify(answers[0])).toContain(String(from)) // the window was read as the intended hour
      for (const answer of answers.slice(1)) expect(answer).toEqual(answers[0])
    }
  })

  it('reads /admin/audit ranges the same way', async () => {
    const before = Date.now() - 1000
    const name = `audit-${crypto.randomUUID()}`
    const created = (await (await admin('/admin/tenants', { method: 'POST', json: { name } })).json()) as { id: string }
    const seconds = Math.floor(before / 1000)
    for (const q of [`from=${seconds * 1000}`, `from=${seconds}`, `from=${iso(seconds * 1000)}`]) {
      const body = (await (await admin(`/admin/audit?target=${created.id}&${q}`)).json()) as { data: unknown[] }
      expect(body.data, q).toHaveLength(1)
    }
    const later = (await (await admin(`/admin/audit?target=${created.id}&from=${iso(Date.now() + 3_600_000)}`)).json()) as { data: unknown[] }
    expect(later.data).toEqual([])
  })

  it.each([
    ['/v1/usage', 'from=tomorrow', 'from'],
    ['/v1/usage', 'to=2025-02-30', 'to'],
    ['/admin/usage', 'from=1e12', 'from'],
    ['/admin/usage/reconcile', 'from=2025-01-01&to=soon', 'to'],
    ['/admin/audit', 'to=2025-01-01T25:00Z', 'to'],
  ])('answers 400 naming the parameter on %s?%s', async (path, q, param) => {
    const { key } = await seedTenant()
    const res = path.startsWith('/v1') ? await api(key, `${path}?${q}`) : await admin(`${path}?${q}`)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param, message: expect.stringContaining('ISO 8601') } })
  })
})
