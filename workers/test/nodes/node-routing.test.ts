// Load-aware routing, session affinity and draining, over real TCP to three stand-in nodes.
import { runDurableObjectAlarm } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, inject, it } from 'vitest'
import { admin, api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { readSse } from '../helpers/sse.ts'
import { standin } from '../helpers/standin.ts'

const nodes = inject('pools').routing.map(standin)
const [r0, r1, r2] = nodes as [ReturnType<typeof standin>, ReturnType<typeof standin>, ReturnType<typeof standin>]
const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 3, ...extra })
const counts = () => Promise.all(nodes.map((n) => n.generations()))

beforeEach(async () => {
  await Promise.all(nodes.map((n) => n.reset()))
})

describe('load-aware routing', () => {
  it('sends a node with a long queue and a full KV cache far fewer requests than idle ones', async () => {
    await r0.setKnobs({ queueDepth: 8, kvCacheUsage: 0.9, ttftMs: 30 }) // scraped at registration
    await r1.setKnobs({ ttftMs: 30 })
    await r2.setKnobs({ ttftMs: 30 })
    const { key } = await seedTenant()
    for (const n of nodes) await registerNode(n.url, ['pool-1'])
    const view = (await (await admin('/admin/nodes')).json()) as { data: { endpoint: string; queue_depth: number; kv_cache_usage: number }[] }
    expect(view.data.find((d) => d.endpoint === r0.url)).toMatchObject({ queue_depth: 8, kv_cache_usage: 0.9 })

    // 60 requests, 12 at a time, so requests in flight weigh in too.
    for (let wave = 0; wave < 5; wave++) {
      const responses = await Promise.all(Array.from({ length: 12 }, () => api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-1') })))
      expect(responses.every((r) => r.status === 200)).toBe(true)
    }
    const [loaded, idleA, idleB] = await counts()
    expect((loaded ?? 0) + (idleA ?? 0) + (idleB ?? 0)).toBe(60)
    expect(loaded).toBeLessThan(Math.min(idleA ?? 0, idleB ?? 0) / 4)
    expect(idleA).toBeGreaterThan(10) // the idle nodes share the work
    expect(idleB).toBeGreaterThan(10)
  })

  it('spreads requests over equally idle nodes (ties at random, so isolates do not pile onto one)', async () => {
    const { key } = await seedTenant()
    for (const n of nodes) await registerNode(n.url, ['pool-2'])
    for (let i = 0; i < 45; i++) await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-2') })
    expect((await counts()).every((c) => c >= 2)).toBe(true) // each expects 15; fewer than 2 has odds below 1e-6
  })
})

describe('session affinity', () => {
  it('keeps a session (x-session-id or user) on one node, and moves it only when that node drains', async () => {
    const { key } = await seedTenant()
    const ids = []
    for (const n of nodes) ids.push((await registerNode(n.url, ['pool-3'])).id)
    const sendAs = (extra: { session?: string; user?: string }) =>
      api(key, '/v1/chat/completions', {
        method: 'POST',
        json: chat('pool-3', extra.user ? { user: extra.user } : {}),
        headers: extra.session ? { 'x-session-id': extra.session } : {},
      })
    const onlyOne = async (send: () => Promise<Response>) => {
      const before = await counts()
      for (let i = 0; i < 10; i++) expect((await send()).status).toBe(200)
      const delta = (await counts()).map((c, i) => c - (before[i] ?? 0))
      expect(delta.filter((d) => d > 0)).toEqual([10])
      return delta.indexOf(10)
    }
    const home = await onlyOne(() => sendAs({ session: 'chat-42' }))
    await onlyOne(() => sendAs({ user: 'user-7' }))

    expect((await admin(`/admin/nodes/${ids[home]}/drain`, { method: 'POST' })).status).toBe(200)
    const moved = await onlyOne(() => sendAs({ session: 'chat-42' }))
    expect(moved).not.toBe(home)
  })
})

describe('draining', () => {
  it('sends a draining node no new requests while its request in flight finishes', async () => {
    const { key } = await seedTenant()
    await r0.setKnobs({ tokensPerSecond: 40, answerTokens: 8 })
    const draining = await registerNode(r0.url, ['pool-4'])
    const stream = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-4', { stream: true, max_tokens: 8 }) })
    expect(stream.status).toBe(200) // headers and a first event are here; the rest is still being generated
    await registerNode(r1.url, ['pool-4'])

    const res = await admin(`/admin/nodes/${draining.id}/drain`, { method: 'POST' })
    expect(await res.json()).toMatchObject({ status: 'draining', removing: false })
    for (let i = 0; i < 10; i++) expect((await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-4') })).status).toBe(200)
    expect(await counts()).toEqual([1, 10, 0])
    expect((await readSse(stream)).at(-1)).toBe('[DONE]') // the in-flight stream finished normally
  })

  it('removes a node (DELETE) only after its in-flight request finished, then monitors it no more', async () => {
    const { key } = await seedTenant()
    await r2.setKnobs({ tokensPerSecond: 40, answerTokens: 8 })
    const node = await registerNode(r2.url, ['pool-5'])
    const stream = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-5', { stream: true, max_tokens: 8 }) })

    const del = await admin(`/admin/nodes/${node.id}`, { method: 'DELETE' })
    expect(del.status).toBe(202) // the node reports a request running: it drains first
    expect(await del.json()).toEqual({ id: node.id, object: 'node', deleted: false, status: 'draining' })
    expect(await (await admin(`/admin/nodes/${node.id}`)).json()).toMatchObject({ status: 'draining', removing: true, in_flight: 1 })
    const refused = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-5') })
    expect(refused.status).toBe(503)

    expect((await readSse(stream)).at(-1)).toBe('[DONE]')
    const monitor = env.NODE_MONITOR.getByName(`node:${node.id}`)
    expect(await runDurableObjectAlarm(monitor)).toBe(true) // the next health check sees it idle
    expect((await admin(`/admin/nodes/${node.id}`)).status).toBe(404)
    expect(await runDurableObjectAlarm(monitor)).toBe(false) // no further checks scheduled
    const audit = await env.DB.prepare("SELECT actor, after FROM audit_log WHERE target = ? AND action = 'node.gone'")
      .bind(node.id)
      .first<{ actor: string; after: string }>()
    expect(audit?.actor).toBe('node-monitor')
    expect(JSON.parse(audit?.after ?? '{}')).toMatchObject({ status: 'gone' })
  })

  it('removes an idle node at once', async () => {
    const node = await registerNode(r1.url, ['pool-6'])
    const del = await admin(`/admin/nodes/${node.id}`, { method: 'DELETE' })
    expect(del.status).toBe(200)
    expect(await del.json()).toEqual({ id: node.id, object: 'node', deleted: true })
    expect((await admin(`/admin/nodes/${node.id}`)).status).toBe(404)
  })
})
