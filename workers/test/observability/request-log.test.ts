// Logs: one JSON object per line; the access line of a request has its id (the one the client and the node
// saw), tenant, route template, status and durations; no line ever carries the API key.
import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import { api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { standin } from '../helpers/standin.ts'

const standins = inject('standins')
afterEach(() => {
  vi.restoreAllMocks()
})

describe('request log', () => {
  it('writes one JSON access line per request with request id, tenant, route template, status, durations', async () => {
    await registerNode(standins.healthy, ['cic-demo-llm'])
    const { key, tenantId } = await seedTenant()
    const lines: string[] = []
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
      lines.push(String(line))
    })
    const res = await api(key, '/v1/chat/completions', {
      method: 'POST',
      json: { model: 'cic-demo-llm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 },
    })
    expect(res.status).toBe(200)
    await res.text()
    vi.restoreAllMocks()
    const requestId = res.headers.get('x-request-id') as string
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>) // every line is one JSON object
    const access = entries.filter((e) => e.msg === 'request' && e.request_id === requestId)
    expect(access).toHaveLength(1)
    expect(access[0]).toMatchObject({
      tenant_id: tenantId,
      method: 'POST',
      route: '/v1/chat/completions',
      status: 200,
      duration_ms: expect.any(Number),
      overhead_ms: expect.any(Number),
      upstream_ms: expect.any(Number),
    })
    for (const line of lines) expect(line).not.toContain(key)
    // The node got the same id.
    const sent = (await standin(standins.healthy).stats()) as unknown as { recent: { headers: Record<string, string> }[] }
    expect(sent.recent.some((r) => r.headers['x-request-id'] === requestId)).toBe(true)
  })
})
