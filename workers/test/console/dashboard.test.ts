// The operator dashboard: its three files are served with a strict CSP, and every admin API call its script
// makes answers with the fields the script reads.
import { describe, expect, inject, it } from 'vitest'
import { DASHBOARD_JS } from '../../src/dashboard/script.ts'
import { admin, call, registerNode, seedTenant } from '../helpers/gateway.ts'

const standins = inject('standins')

describe('GET /dashboard', () => {
  it('serves the page, its script and its stylesheet without a token, under a same-origin-only CSP', async () => {
    const page = await call('/dashboard')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    const csp = page.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    const html = await page.text()
    for (const asset of ['/dashboard/app.js', '/dashboard/app.css']) {
      expect(html).toContain(asset)
      const res = await call(asset)
      expect(res.status).toBe(200)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    }
    expect((await call('/dashboard/app.js')).headers.get('content-type')).toMatch(/^text\/javascript/)
  })

  it('never builds HTML from data (tenant and key names are user input)', () => {
    expect(DASHBOARD_JS).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/)
  })

  it('reads only admin routes that exist and return what it draws', async () => {
    const { tenantId } = await seedTenant()
    await registerNode(standins.healthy, ['cic-demo-llm'])
    const calls = [...DASHBOARD_JS.matchAll(/api\('GET', '([^']+)'/g)].map((m) => m[1] ?? '')
    expect(calls).toEqual(
      expect.arrayContaining(['/admin/usage?group_by=hour&from=', '/admin/nodes', '/admin/tenants', '/admin/audit?limit=20', '/admin/tenants/']),
    )
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000
    const usage = (await (await admin(`/admin/usage?group_by=hour&from=${hour - 23 * 3_600_000}&to=${hour + 3_600_000}`)).json()) as {
      totals: Record<string, number>
      data: unknown[]
    }
    expect(usage.totals).toMatchObject({ requests: expect.any(Number), prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) })
    const nodes = (await (await admin('/admin/nodes')).json()) as { data: Record<string, unknown>[] }
    expect(nodes.data[0]).toMatchObject({
      name: expect.any(String),
      endpoint: expect.any(String),
      status: 'ready',
      breaker: { state: 'closed', since: expect.any(Number) },
    })
    expect(nodes.data[0]).toHaveProperty('queue_depth')
    expect(nodes.data[0]).toHaveProperty('kv_cache_usage')
    const audit = (await (await admin('/admin/audit?limit=20')).json()) as { data: Record<string, unknown>[] }
    expect(audit.data[0]).toMatchObject({ at: expect.any(Number), actor: expect.any(String), action: expect.any(String), target: expect.any(String) })
    const keys = (await (await admin(`/admin/tenants/${tenantId}/keys`)).json()) as { data: Record<string, unknown>[] }
    expect(keys.data[0]).toMatchObject({ prefix: expect.any(String), created_at: expect.any(Number), revoked_at: null })
    const tenantUsage = await (await admin(`/admin/tenants/${tenantId}/usage`)).json()
    expect(tenantUsage).toMatchObject({ requests: 0, total_tokens: 0, by_model: [] })
  })
})
