// The node admin API: what an operator sees (state, breaker, health, load) and the lifecycle actions
// (drain, resume, remove), with their error cases. One stand-in node over real TCP.
import { env } from 'cloudflare:workers'
import { beforeEach, describe, expect, inject, it } from 'vitest'
import { admin, api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { standin } from '../helpers/standin.ts'

const node0 = standin(inject('pools').admin[0] as string)
const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 2 })

beforeEach(async () => {
  await node0.reset()
})

describe('GET /admin/nodes', () => {
  it("shows each node's state, breaker state and since when, health, requests in flight, queue depth and KV usage", async () => {
    await node0.setKnobs({ queueDepth: 3, kvCacheUsage: 0.25 })
    const node = await registerNode(node0.url, ['pool-1'], { name: 'admin-view-node' })
    const res = await admin(`/admin/nodes/${node.id}`)
    expect(res.status).toBe(200)
    // biome-ignore lint/suspicious/noExplicitAny: a test reads loose JSON by path; its assertions check the shapes
    const body = (await res.json()) as Record<string, any>
    expect(body).toMatchObject({
      id: node.id,
      object: 'node',
      name: 'admin-view-node',
      endpoint: node0.url,
      models: ['pool-1'],
      status: 'ready',
      removing: false,
      breaker: { state: 'closed', consecutive_failures: 0, retry_at: null, failure_threshold: 5, cooldown_ms: 30_000, half_open_probes: 1 },
      health: { state: 'healthy', consecutive_failures: 0, last_error: null },
      in_flight: 0,
      queue_depth: 3,
      kv_cache_usage: 0.25,
      last_error: null,
    })
    expect(body.breaker.since).toBeGreaterThan(0)
    expect(body.health.last_ok_at).toBeGreaterThan(0)
    const list = (await (await admin('/admin/nodes')).json()) as { object: string; data: Record<string, unknown>[] }
    expect(list.object).toBe('list')
    expect(list.data.find((n) => n.id === node.id)).toEqual(body)
  })

  it('rejects an unknown breaker setting at registration, naming it', async () => {
    const res = await admin('/admin/nodes', { method: 'POST', json: { endpoint: node0.url, models: ['pool-1'], breaker: { cooldown: 5 } } })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'breaker.cooldown' } })
  })

  it.each([
    ['GET', ''],
    ['PATCH', ''],
    ['POST', '/drain'],
    ['POST', '/resume'],
    ['DELETE', ''],
  ])('answers 404 in OpenAI format for %s /admin/nodes/:id%s of an unknown node', async (method, suffix) => {
    const res = await admin(`/admin/nodes/node_nope${suffix}`, { method, json: method === 'PATCH' ? { breaker: {} } : undefined })
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: { code: 'node_not_found', param: 'id' } })
  })
})

describe('drain and resume', () => {
  it('drains a node (no new traffic), then resumes it (ready again after a health check), with audit rows', async () => {
    const { key } = await seedTenant()
    const node = await registerNode(node0.url, ['pool-2'])
    const drained = await admin(`/admin/nodes/${node.id}/drain`, { method: 'POST', headers: { 'x-request-id': 'drain-req-00001' } })
    expect(await drained.json()).toMatchObject({ status: 'draining' })
    expect((await admin(`/admin/nodes/${node.id}/drain`, { method: 'POST' })).status).toBe(200) // idempotent
    const refused = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-2') })
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({ error: { code: 'no_available_node' } })

    const resumed = await admin(`/admin/nodes/${node.id}/resume`, { method: 'POST' })
    expect(await resumed.json()).toMatchObject({ status: 'ready' })
    expect((await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-2') })).status).toBe(200)

    const audit = await env.DB.prepare('SELECT action, actor, request_id FROM audit_log WHERE target = ? ORDER BY id')
      .bind(node.id)
      .all<{ action: string; actor: string; request_id: string | null }>()
    expect(audit.results.map((r) => r.action)).toEqual(['node.register', 'node.ready', 'node.drain', 'node.resume', 'node.ready'])
    expect(audit.results[2]).toMatchObject({ actor: 'admin', request_id: expect.stringMatching(/^drain-req-00001\//) })
    expect(audit.results[4]).toMatchObject({ actor: 'node-monitor', request_id: null })
  })

  it('refuses to drain or resume a terminated node (409)', async () => {
    await env.DB.prepare(
      "INSERT INTO nodes (id, name, endpoint, models, status) VALUES ('node_term', 'term', 'http://127.0.0.1:1', '[\"pool-3\"]', 'terminated')",
    ).run()
    for (const action of ['drain', 'resume']) {
      const res = await admin(`/admin/nodes/node_term/${action}`, { method: 'POST' })
      expect(res.status).toBe(409)
      expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_node_state' } })
    }
  })

  it('resumes a node its monitor marked failed, checking it at once', async () => {
    const node = await registerNode(node0.url, ['pool-5'])
    await env.DB.prepare("UPDATE nodes SET status = 'failed' WHERE id = ?").bind(node.id).run()
    const resumed = await admin(`/admin/nodes/${node.id}/resume`, { method: 'POST' })
    expect(await resumed.json()).toMatchObject({ status: 'ready', health: { state: 'healthy' } })
  })

  it('keeps an unreachable node warming when resumed', async () => {
    const node = await registerNode('http://127.0.0.1:1', ['pool-6'])
    const res = await admin(`/admin/nodes/${node.id}/resume`, { method: 'POST' })
    expect(await res.json()).toMatchObject({ status: 'warming', health: { consecutive_failures: 2 } })
  })

  it('removes a terminated node at once (nothing can be running on it)', async () => {
    await env.DB.prepare(
      "INSERT INTO nodes (id, name, endpoint, models, status) VALUES ('node_done', 'done', 'http://127.0.0.1:1', '[\"pool-4\"]', 'terminated')",
    ).run()
    const res = await admin('/admin/nodes/node_done', { method: 'DELETE' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ id: 'node_done', object: 'node', deleted: true })
    expect((await admin('/admin/nodes/node_done')).status).toBe(404)
  })
})
