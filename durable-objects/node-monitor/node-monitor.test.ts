// The NodeMonitor's health-check alarms against stand-in nodes over real TCP, driven with
// runDurableObjectAlarm (the test interval is an hour, so no alarm fires on its own), observed through the
// admin API as an operator would.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest'
import { admin, api, registerNode, seedTenant } from '../../workers/test/helpers/gateway.ts'
import { standin } from '../../workers/test/helpers/standin.ts'

const [m0, m1] = inject('pools').monitor.map(standin) as [ReturnType<typeof standin>, ReturnType<typeof standin>]
const monitor = (id: string) => env.NODE_MONITOR.getByName(`node:${id}`)
type View = {
  status: string
  last_error: string | null
  in_flight: number | null
  queue_depth: number | null
  kv_cache_usage: number | null
  metrics_at: number | null
  health: { state: string; consecutive_failures: number; last_error: string | null }
  breaker: { state: string; consecutive_failures: number }
}
const view = async (id: string) => (await (await admin(`/admin/nodes/${id}`)).json()) as View
const checkNow = async (id: string) => expect(await runDurableObjectAlarm(monitor(id))).toBe(true)

beforeEach(async () => {
  await Promise.all([m0.reset(), m1.reset()])
})
afterEach(() => {
  vi.useRealTimers()
})

describe('health-check alarms', () => {
  it('keeps a node warming while /health fails, and promotes it to ready once it passes', async () => {
    await m0.setKnobs({ healthStatus: 503 })
    const node = await registerNode(m0.url, ['pool-1'])
    expect(node.status).toBe('warming')
    await checkNow(node.id)
    expect(await view(node.id)).toMatchObject({ status: 'warming', health: { consecutive_failures: 2, last_error: 'GET /health answered HTTP 503' } })

    await m0.setKnobs({ healthStatus: 200 })
    await checkNow(node.id)
    expect(await view(node.id)).toMatchObject({ status: 'ready', health: { state: 'healthy', consecutive_failures: 0 } })
    const audit = await env.DB.prepare("SELECT actor FROM audit_log WHERE target = ? AND action = 'node.ready'").bind(node.id).first<{ actor: string }>()
    expect(audit?.actor).toBe('node-monitor')
  })

  it('marks a ready node failed after 3 failed checks, routes around it, and revives it when it answers again', async () => {
    const { key } = await seedTenant()
    const node = await registerNode(m0.url, ['pool-2'])
    await registerNode(m1.url, ['pool-2'])
    expect(node.status).toBe('ready')
    await m0.setKnobs({ healthStatus: 503 })
    await checkNow(node.id)
    await checkNow(node.id)
    expect((await view(node.id)).status).toBe('ready') // two failures could be a blip
    await checkNow(node.id)
    const failed = await view(node.id)
    expect(failed).toMatchObject({ status: 'failed', health: { state: 'unhealthy', consecutive_failures: 3 } })
    expect(failed.last_error).toContain('HTTP 503')

    // Isolates see it once their cached node list (2 s) and monitor snapshots (1 s) expire: move the clock on.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    vi.setSystemTime(Date.now() + 2_500)
    const before = await m0.generations()
    for (let i = 0; i < 10; i++)
      expect((await api(key, '/v1/chat/completions', { method: 'POST', json: { model: 'pool-2', messages: [{ role: 'user', content: 'x' }] } })).status).toBe(
        200,
      )
    expect(await m0.generations()).toBe(before)

    await m0.setKnobs({ healthStatus: 200 })
    await checkNow(node.id)
    expect(await view(node.id)).toMatchObject({ status: 'ready', health: { state: 'healthy' } })
  })

  it('marks a node that refuses connections failed', async () => {
    const node = await registerNode('http://127.0.0.1:1', ['pool-3'])
    await env.DB.prepare("UPDATE nodes SET status = 'ready' WHERE id = ?").bind(node.id).run()
    for (let i = 0; i < 2; i++) await checkNow(node.id) // plus the check at registration: 3
    const dead = await view(node.id)
    expect(dead.status).toBe('failed')
    expect(dead.last_error).toMatch(/GET \/health failed/)
  })

  it('scrapes queue depth, running requests and KV-cache usage from /metrics', async () => {
    const node = await registerNode(m1.url, ['pool-4'])
    await m1.setKnobs({ queueDepth: 4, running: 2, kvCacheUsage: 0.5 })
    await checkNow(node.id)
    const loaded = await view(node.id)
    expect(loaded).toMatchObject({ queue_depth: 4, in_flight: 2, kv_cache_usage: 0.5 })
    expect(loaded.metrics_at).toBeGreaterThan(0)
  })

  it('stops checking a node whose row is gone', async () => {
    const node = await registerNode(m1.url, ['pool-5'])
    await env.DB.prepare('DELETE FROM nodes WHERE id = ?').bind(node.id).run()
    await checkNow(node.id)
    expect(await runDurableObjectAlarm(monitor(node.id))).toBe(false)
  })

  it('starts monitoring a node nobody registered through the API the first time anyone asks about it', async () => {
    await env.DB.prepare("INSERT INTO nodes (id, name, endpoint, models, status) VALUES ('node_raw', 'raw', ?, '[\"pool-6\"]', 'warming')").bind(m1.url).run()
    expect(await runDurableObjectAlarm(monitor('node_raw'))).toBe(false)
    await admin('/admin/nodes/node_raw')
    await checkNow('node_raw')
    expect((await view('node_raw')).status).toBe('ready')
  })
})

describe('breaker storage', () => {
  it('keeps the breaker state across eviction (it is in SQLite, not memory)', async () => {
    const node = await registerNode(m1.url, ['pool-7'], { breaker: { failure_threshold: 2 } })
    for (let i = 0; i < 2; i++) await monitor(node.id).recordOutcome({ ok: false, isProbe: false, error: 'HTTP 502' })
    await evictDurableObject(monitor(node.id))
    expect(await view(node.id)).toMatchObject({ breaker: { state: 'open', consecutive_failures: 2 } })
    expect(await runInDurableObject(monitor(node.id), (_instance, state) => state.storage.getAlarm())).not.toBeNull()
  })
})
