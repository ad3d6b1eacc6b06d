// A dependency that fails during auth (D1), admission (the TenantGate object) or routing (D1's node list), or
// the node-ops Queue on a launch, is a 503 `server_error` in OpenAI's envelope with a Retry-After (jittered,
// whole seconds), not a 500; and the failure is counted by dependency on /metrics.
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import { invalidateNodeDirectory } from '../../src/services/nodes/node-directory.ts'
import { admin, api, call, registerNode, seedTenant } from '../helpers/gateway.ts'
import { eventually } from '../helpers/standin.ts'

const METRICS_TOKEN = 'test-metrics-token-0123456789'
const chat = { model: 'cic-demo-llm', messages: [{ role: 'user', content: 'hello' }], max_tokens: 2 }
const failing = (what: string) => () => {
  throw new Error(`${what}: simulated outage`)
}

async function dependencyFailures(dependency: string): Promise<number> {
  const text = await (await call('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text()
  const line = text.split('\n').find((l) => l.startsWith(`cic_dependency_failures_total{dependency="${dependency}"}`))
  return line ? Number(line.split(' ').at(-1)) : 0
}

async function expect503(res: Response, maxRetryAfter = 3) {
  expect(res.status).toBe(503)
  expect(res.headers.get('x-request-id')).toMatch(/^req_/)
  const retryAfter = Number(res.headers.get('retry-after'))
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxRetryAfter).toBe(true)
  expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: expect.any(String), message: expect.any(String) } })
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('a failing dependency', () => {
  it('during auth (D1) is a 503 with Retry-After, counted as d1', async () => {
    const { key } = await seedTenant() // a fresh key: not in this isolate's key cache yet
    const before = await dependencyFailures('d1')
    vi.spyOn(env.DB, 'prepare').mockImplementation(failing('D1_ERROR'))
    const res = await api(key, '/v1/models')
    vi.restoreAllMocks()
    await expect503(res)
    await eventually(
      () => dependencyFailures('d1'),
      (n) => n === before + 1,
    )
  })

  it('during admission (TenantGate) is a 503 with Retry-After, counted as tenant_gate', async () => {
    await registerNode(inject('standins').healthy, ['cic-demo-llm'])
    const { key } = await seedTenant()
    expect((await api(key, '/v1/chat/completions', { method: 'POST', json: chat })).status).toBe(200)
    const before = await dependencyFailures('tenant_gate')
    vi.spyOn(env.TENANT_GATE, 'getByName').mockImplementation(failing('Durable Object reset because its code was updated'))
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat })
    vi.restoreAllMocks()
    await expect503(res)
    await eventually(
      () => dependencyFailures('tenant_gate'),
      (n) => n === before + 1,
    )
  })

  it('during routing (D1 node list) is a 503 with Retry-After', async () => {
    await registerNode(inject('standins').healthy, ['cic-demo-llm'])
    const { key } = await seedTenant()
    expect((await api(key, '/v1/chat/completions', { method: 'POST', json: chat })).status).toBe(200) // key cached
    invalidateNodeDirectory()
    vi.spyOn(env.DB, 'prepare').mockImplementation(failing('D1_ERROR'))
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat })
    vi.restoreAllMocks()
    await expect503(res)
  })

  it('on a launch enqueue (Queue) is a 503 with a jittered Retry-After of 5 to 7 s, counted as queue', async () => {
    const before = await dependencyFailures('queue')
    vi.spyOn(env.NODE_OPS, 'send').mockRejectedValueOnce(new Error('queue unavailable'))
    const res = await admin('/admin/nodes/launch', {
      method: 'POST',
      json: { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', model: 'cic-demo-llm' },
    })
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(5)
    await expect503(res, 7)
    await eventually(
      () => dependencyFailures('queue'),
      (n) => n === before + 1,
    )
  })
})
