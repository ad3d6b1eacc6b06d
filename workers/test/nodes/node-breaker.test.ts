// The per-node circuit breaker end to end: two stand-in nodes over real TCP, one of them failing. Time is
// moved with a fake Date (Worker, monitor object and test share the isolate), never slept through.
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest'
import { admin, api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { eventually, standin } from '../helpers/standin.ts'

const [bad, good] = inject('pools').breaker.map(standin) as [ReturnType<typeof standin>, ReturnType<typeof standin>]
const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 })
type NodeView = {
  status: string
  breaker: { state: string; consecutive_failures: number; retry_at: number | null; since: number }
  last_error: string | null
  last_error_at: number | null
}
const nodeView = async (id: string) => (await (await admin(`/admin/nodes/${id}`)).json()) as NodeView

beforeEach(async () => {
  await Promise.all([bad.reset(), good.reset()])
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('circuit breaker', () => {
  it('opens after 5 consecutive 500s, sends the node nothing while open, and closes after one good probe', async () => {
    const { key } = await seedTenant()
    await bad.setKnobs({ fail: 'http500' })
    const badNode = await registerNode(bad.url, ['pool-1'])
    await registerNode(good.url, ['pool-1'])

    // Until the failing node has seen 5 requests, each of them gets a 500 from it, and each is retried once on
    // the healthy node: the client never hears the 500. This expectation changed on purpose (issue 14): a node's
    // 500 used to reach the client (5 failures here), while curl and most scripts do not retry and Portkey and
    // LiteLLM retry a 500 on another target; it still counts against the failing node's breaker.
    let failures = 0
    for (let i = 0; i < 200 && (await bad.generations()) < 5; i++) {
      const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-1') })
      if (res.status !== 200) failures++
      const seen = await bad.generations()
      if (seen < 5)
        expect(
          (
            await eventually(
              () => nodeView(badNode.id),
              (v) => v.breaker.consecutive_failures === seen,
            )
          ).breaker.state,
        ).toBe('closed')
    }
    expect(await bad.generations()).toBe(5)
    expect(failures).toBe(0)
    const opened = await eventually(
      () => nodeView(badNode.id),
      (v) => v.breaker.state === 'open',
    )
    expect(opened.breaker).toMatchObject({ consecutive_failures: 5, retry_at: opened.breaker.since + 30_000 })
    expect(opened.last_error).toMatch(/model node failed/)

    for (let i = 0; i < 20; i++) expect((await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-1') })).status).toBe(200)
    expect(await bad.generations()).toBe(5) // nothing more reached it

    await bad.setKnobs({ fail: 'none' })
    vi.setSystemTime(Date.now() + 30_001)
    expect((await nodeView(badNode.id)).breaker.state).toBe('half_open')
    const probe = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-1') })
    expect(probe.status).toBe(200)
    expect(await bad.generations()).toBe(6) // the one probe went to the recovering node
    expect(
      (
        await eventually(
          () => nodeView(badNode.id),
          (v) => v.breaker.state === 'closed',
        )
      ).breaker.consecutive_failures,
    ).toBe(0)

    const before = await bad.generations()
    for (let i = 0; i < 30; i++) await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-1') })
    expect(await bad.generations()).toBeGreaterThan(before) // back in rotation
  })

  it('re-opens for another cooldown when the probe fails, and the client still gets an answer from the other node', async () => {
    const { key } = await seedTenant()
    await bad.setKnobs({ fail: 'http500' })
    const badNode = await registerNode(bad.url, ['pool-2'], { breaker: { failure_threshold: 2, cooldown_ms: 10_000 } })
    await registerNode(good.url, ['pool-2'])
    for (let i = 0; i < 200 && (await bad.generations()) < 2; i++) await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-2') })
    const opened = await eventually(
      () => nodeView(badNode.id),
      (v) => v.breaker.state === 'open',
    )
    expect(opened.breaker.retry_at).toBe(opened.breaker.since + 10_000) // the node's own cooldown

    vi.setSystemTime(Date.now() + 10_001)
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-2') })
    expect(res.status).toBe(200) // the failed probe was retried on the healthy node
    expect(await bad.generations()).toBe(3)
    const reopened = await eventually(
      () => nodeView(badNode.id),
      (v) => v.breaker.state === 'open' && v.breaker.since > opened.breaker.since,
    )
    expect(reopened.breaker.retry_at).toBe(reopened.breaker.since + 10_000)
  })

  it('answers 503 in OpenAI format with Retry-After when every node of the model has its breaker open', async () => {
    const { key } = await seedTenant()
    await bad.setKnobs({ fail: 'http500' })
    const node = await registerNode(bad.url, ['pool-3'], { breaker: { failure_threshold: 1, cooldown_ms: 20_000 } })
    expect((await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-3') })).status).toBe(502)
    await eventually(
      () => nodeView(node.id),
      (v) => v.breaker.state === 'open',
    )
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-3') })
    expect(res.status).toBe(503)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(19)
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(20)
    expect(res.headers.get('x-request-id')).toMatch(/^req_/)
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'no_available_node', param: null } })
    expect(await bad.generations()).toBe(1)
  })

  it("lets an admin change a node's thresholds", async () => {
    const node = await registerNode(good.url, ['pool-4'])
    const res = await admin(`/admin/nodes/${node.id}`, { method: 'PATCH', json: { breaker: { failure_threshold: 9, cooldown_ms: 1000, half_open_probes: 2 } } })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ breaker: { state: 'closed', failure_threshold: 9, cooldown_ms: 1000, half_open_probes: 2 } })
    const bad400 = await admin(`/admin/nodes/${node.id}`, { method: 'PATCH', json: { breaker: { failure_threshold: 0 } } })
    expect(bad400.status).toBe(400)
    expect(await bad400.json()).toMatchObject({ error: { param: 'breaker.failure_threshold' } })
  })
})
