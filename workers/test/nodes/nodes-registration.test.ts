// Node self-registration cannot redirect traffic: a repeat with the same endpoint is a no-op 200, another
// endpoint is refused, and the models routed are the launch spec's whatever the node claims. Also the runner's
// report answer, which tells a new launch attempt (previous_status queued) from a redelivery.
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import { admin, call, uniqueModel } from '../helpers/gateway.ts'
import { ack, pullFor, runner } from '../helpers/node-ops.ts'

const SPEC = { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', model: 'cic-demo-llm' }

async function launchAndMint(model = SPEC.model) {
  const res = await admin('/admin/nodes/launch', { method: 'POST', json: { ...SPEC, model } })
  expect(res.status).toBe(202)
  const { cluster_name: cluster, node_id: nodeId } = (await res.json()) as { cluster_name: string; node_id: string }
  await ack((await pullFor(cluster)).wire.lease_id)
  expect(await (await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'launching' } })).json()).toMatchObject({
    status: 'launching',
    applied: true,
    previous_status: 'queued',
  })
  const creds = (await (await runner(`/runner/nodes/${cluster}/credentials`)).json()) as { register_token: string }
  return { cluster, nodeId, token: creds.register_token }
}

const register = (token: string, json: unknown) => call('/nodes/register', { method: 'POST', json, headers: { authorization: `Bearer ${token}` } })
const row = (id: string) =>
  env.DB.prepare('SELECT status, endpoint, models FROM nodes WHERE id = ?').bind(id).first<{ status: string; endpoint: string; models: string }>()

describe('POST /nodes/register, a second time', () => {
  it('answers a repeat with the same endpoint with 200 and changes nothing', async () => {
    const healthy = inject('standins').healthy
    const a = await launchAndMint()
    expect((await register(a.token, { cluster_name: a.cluster, endpoint: healthy, models: [SPEC.model] })).status).toBe(200)
    const before = await row(a.nodeId)
    expect(before?.status).toBe('ready')
    const again = await register(a.token, { cluster_name: a.cluster, endpoint: `${healthy}/`, models: [SPEC.model] })
    expect(again.status).toBe(200)
    expect(await again.json()).toMatchObject({ cluster_name: a.cluster, status: 'ready' })
    expect(await row(a.nodeId)).toEqual(before)
    const audits = await env.DB.prepare("SELECT count(*) AS n FROM audit_log WHERE target = ? AND action = 'node.self_register'")
      .bind(a.nodeId)
      .first<{ n: number }>()
    expect(audits?.n).toBe(1)
  })

  it('refuses another endpoint with 409 naming endpoint, and keeps routing to the first one', async () => {
    const healthy = inject('standins').healthy
    const a = await launchAndMint()
    expect((await register(a.token, { cluster_name: a.cluster, endpoint: healthy, models: [SPEC.model] })).status).toBe(200)
    for (const endpoint of ['http://10.6.6.6:8000', 'http://attacker.example']) {
      const res = await register(a.token, { cluster_name: a.cluster, endpoint, models: [SPEC.model] })
      expect(res.status).toBe(409)
      expect(res.headers.get('x-request-id')).toBeTruthy()
      expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'node_already_registered', param: 'endpoint' } })
    }
    expect(await row(a.nodeId)).toMatchObject({ status: 'ready', endpoint: healthy })
  })

  it('still accepts the new endpoint of a relaunched attempt (the node was failed, then relaunched)', async () => {
    const a = await launchAndMint()
    expect((await register(a.token, { cluster_name: a.cluster, endpoint: 'http://127.0.0.1:9', models: [SPEC.model] })).status).toBe(200)
    await env.DB.prepare("UPDATE nodes SET status = 'failed' WHERE id = ?").bind(a.nodeId).run()
    expect((await admin(`/admin/nodes/${a.cluster}/relaunch`, { method: 'POST' })).status).toBe(202)
    await ack((await pullFor(a.cluster)).wire.lease_id)
    await runner(`/runner/nodes/${a.cluster}/status`, { json: { status: 'launching' } })
    const creds = (await (await runner(`/runner/nodes/${a.cluster}/credentials`)).json()) as { register_token: string }
    const healthy = inject('standins').healthy
    expect((await register(creds.register_token, { cluster_name: a.cluster, endpoint: healthy, models: [SPEC.model] })).status).toBe(200)
    expect(await row(a.nodeId)).toMatchObject({ status: 'ready', endpoint: healthy })
  })
})

describe("a previous attempt's token", () => {
  it('cannot register a relaunched node, queued or launching, to any endpoint', async () => {
    const a = await launchAndMint()
    expect((await register(a.token, { cluster_name: a.cluster, endpoint: 'http://127.0.0.1:9', models: [SPEC.model] })).status).toBe(200)
    // Failed by its monitor (deadline or preemption): that does not clear the token, the relaunch does.
    await env.DB.prepare("UPDATE nodes SET status = 'failed' WHERE id = ?").bind(a.nodeId).run()
    expect((await admin(`/admin/nodes/${a.cluster}/relaunch`, { method: 'POST' })).status).toBe(202)
    await ack((await pullFor(a.cluster)).wire.lease_id)
    const hijack = { cluster_name: a.cluster, endpoint: 'http://10.6.6.6:8000', models: [SPEC.model] }
    expect((await register(a.token, hijack)).status).toBe(401) // queued
    await runner(`/runner/nodes/${a.cluster}/status`, { json: { status: 'launching' } })
    expect((await register(a.token, hijack)).status).toBe(401) // launching, before the new attempt's credentials
    expect(await row(a.nodeId)).toMatchObject({ status: 'launching' })
  })
})

describe('registered models', () => {
  it("stores (and so routes) only the launch spec's model, whatever the node claims", async () => {
    const launched = uniqueModel('spec-model')
    const a = await launchAndMint(launched)
    const claimed = uniqueModel('claimed-model')
    expect((await register(a.token, { cluster_name: a.cluster, endpoint: inject('standins').healthy, models: [claimed, launched] })).status).toBe(200)
    expect(JSON.parse((await row(a.nodeId))?.models ?? '[]')).toEqual([launched])
    expect(await (await admin(`/admin/nodes/${a.cluster}/status`)).json()).toMatchObject({ models: [launched] })
  })
})

describe('runner status report', () => {
  it('answers with the status before the report, so the runner tells a redelivery from a new attempt', async () => {
    const a = await launchAndMint()
    expect(await (await runner(`/runner/nodes/${a.cluster}/status`, { json: { status: 'launching' } })).json()).toMatchObject({
      status: 'launching',
      applied: true,
      previous_status: 'launching',
    })
  })
})
