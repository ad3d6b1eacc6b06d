// Trusted registration: the runner reports the endpoint it created for a launch attempt (with the attempt's
// credentials) and POST /nodes/register accepts that endpoint only (403 naming `endpoint` otherwise); a repeat with
// it is a harmless 200 that changes nothing; in production-like environments an attempt without a reported
// endpoint cannot register at all, and the reported endpoint itself must be on the private path. A missing or
// malformed token is a 401 before any byte of the body is read, even from a body that never ends.
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import { admin, call } from '../helpers/gateway.ts'
import { ack, pullFor, runner } from '../helpers/node-ops.ts'
import { postToWorker, productionEnv } from '../helpers/production.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.ts'

const SPEC = { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', model: 'cic-demo-llm' }

async function launchAndMint(credentialsBody?: unknown) {
  const res = await admin('/admin/nodes/launch', { method: 'POST', json: SPEC })
  expect(res.status).toBe(202)
  const { cluster_name: cluster, node_id: nodeId } = (await res.json()) as { cluster_name: string; node_id: string }
  await ack((await pullFor(cluster)).wire.lease_id)
  await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'launching' } })
  const minted = await runner(`/runner/nodes/${cluster}/credentials`, credentialsBody === undefined ? {} : { json: credentialsBody })
  expect(minted.status).toBe(200)
  const creds = (await minted.json()) as { register_token: string }
  return { cluster, nodeId, token: creds.register_token }
}

const register = (token: string, json: unknown) => call('/nodes/register', { method: 'POST', json, headers: { authorization: `Bearer ${token}` } })
const launchRow = (cluster: string) => env.DB.prepare('SELECT endpoint, register_token_hash FROM node_launches WHERE cluster_name = ?').bind(cluster).first()
const nodeRow = (id: string) => env.DB.prepare('SELECT status, endpoint FROM nodes WHERE id = ?').bind(id).first<{ status: string; endpoint: string }>()
const selfRegisterAudits = async (id: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM audit_log WHERE target = ? AND action = 'node.self_register'").bind(id).first<{ n: number }>())?.n

describe('POST /nodes/register accepts only the endpoint the runner created', () => {
  it('refuses another endpoint with a 403 naming endpoint, accepts the reported one, and a repeat changes nothing', async () => {
    const healthy = inject('standins').healthy
    const a = await launchAndMint({ endpoint: `${healthy}/` })
    expect(await launchRow(a.cluster)).toMatchObject({ endpoint: healthy }) // stored normalized

    const elsewhere = await register(a.token, { cluster_name: a.cluster, endpoint: 'http://127.0.0.1:9', models: [SPEC.model] })
    expect(elsewhere.status).toBe(403)
    expect(await elsewhere.json()).toMatchObject({ error: { type: 'permission_error', param: 'endpoint', code: 'endpoint_not_allowed' } })
    expect(await nodeRow(a.nodeId)).toMatchObject({ status: 'launching' })

    const first = await register(a.token, { cluster_name: a.cluster, endpoint: healthy, models: [SPEC.model] })
    expect(first.status).toBe(200)
    const after = await nodeRow(a.nodeId)
    expect(after).toMatchObject({ endpoint: healthy })
    const again = await register(a.token, { cluster_name: a.cluster, endpoint: healthy, models: [SPEC.model] })
    expect(again.status).toBe(200)
    expect(await nodeRow(a.nodeId)).toEqual(after)
    expect(await selfRegisterAudits(a.nodeId)).toBe(1) // only the first one changed state
    // Registered, a different endpoint is still refused as not the launch's.
    const moved = await register(a.token, { cluster_name: a.cluster, endpoint: 'http://127.0.0.1:9', models: [SPEC.model] })
    expect(moved.status).toBe(403)
  })

  it('a failed or terminated attempt forgets its endpoint with its token', async () => {
    const a = await launchAndMint({ endpoint: 'http://127.0.0.1:7' })
    await runner(`/runner/nodes/${a.cluster}/status`, { json: { status: 'failed', error: 'test' } })
    expect(await launchRow(a.cluster)).toMatchObject({ endpoint: null, register_token_hash: null })
  })

  it('refuses a credentials body with an unknown field or a non-URL endpoint, naming it', async () => {
    const res = await admin('/admin/nodes/launch', { method: 'POST', json: SPEC })
    const { cluster_name: cluster } = (await res.json()) as { cluster_name: string }
    await ack((await pullFor(cluster)).wire.lease_id)
    await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'launching' } })
    const bad = await runner(`/runner/nodes/${cluster}/credentials`, { json: { endpoint: 'not a url' } })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: { param: 'endpoint' } })
    expect((await runner(`/runner/nodes/${cluster}/credentials`, { json: { endpoint: 'http://x.test', extra: 1 } })).status).toBe(400)
  })
})

describe('node path failures reported by the runner', () => {
  const scrape = async () => {
    const res = await call('/metrics', { headers: { authorization: 'Bearer test-metrics-token-0123456789' } })
    return parsePrometheusText(await res.text())
  }
  const failures = async (stage: string) => sampleValue(await scrape(), 'cic_node_path_failures_total', { stage }) ?? 0

  it('are counted in cic_node_path_failures_total by stage, applied or not', async () => {
    const before = { create: await failures('create'), cleanup: await failures('cleanup') }
    const a = await launchAndMint({ endpoint: 'http://127.0.0.1:7' })
    const report = (json: unknown) => runner(`/runner/nodes/${a.cluster}/status`, { json })
    expect((await report({ status: 'queued', error: 'node_path: x', node_path_failure: 'create' })).status).toBe(200)
    expect((await report({ status: 'terminating', error: 'node_path cleanup failed: y', node_path_failure: 'cleanup' })).status).toBe(200)
    expect((await report({ status: 'terminating', error: 'again', node_path_failure: 'cleanup' })).status).toBe(200)
    expect((await report({ status: 'queued', node_path_failure: 'elsewhere' })).status).toBe(400) // bounded labels
    expect(await failures('create')).toBe(before.create + 1)
    expect(await failures('cleanup')).toBe(before.cleanup + 2)
  })
})

describe('in production', () => {
  const STRONG_RUNNER = `prod-runner-${'r'.repeat(40)}`
  const prodEnv = productionEnv({ RUNNER_TOKEN: STRONG_RUNNER, NODES_ZONE: 'nodes.example.com' })
  const prodCall = (path: string, json: unknown, authorization: string) => postToWorker(prodEnv, path, json, authorization)

  it('refuses a reported endpoint that is not https under NODES_ZONE (400 naming endpoint)', async () => {
    const a = await launchAndMint()
    for (const endpoint of ['http://127.0.0.1:8000', 'https://evil.example.net', 'http://cic-x.nodes.example.com']) {
      const res = await prodCall(`/runner/nodes/${a.cluster}/credentials`, { endpoint }, `Bearer ${STRONG_RUNNER}`)
      expect(res.status, endpoint).toBe(400)
      expect(await res.json()).toMatchObject({ error: { param: 'endpoint', code: 'invalid_endpoint' } })
    }
  })

  it('refuses the registration of an attempt whose runner reported no endpoint (403 naming endpoint)', async () => {
    const a = await launchAndMint() // minted without an endpoint, as a runner older than the node path would
    const res = await prodCall(
      '/nodes/register',
      { cluster_name: a.cluster, endpoint: `https://${a.cluster}.nodes.example.com`, models: [SPEC.model] },
      `Bearer ${a.token}`,
    )
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ error: { param: 'endpoint', code: 'endpoint_not_reported' } })
  })

  it('refuses an endpoint on the zone that is not the one reported for the launch', async () => {
    const a = await launchAndMint({ endpoint: 'https://reported.nodes.example.com' })
    const res = await prodCall(
      '/nodes/register',
      { cluster_name: a.cluster, endpoint: 'https://other.nodes.example.com', models: [SPEC.model] },
      `Bearer ${a.token}`,
    )
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ error: { param: 'endpoint', code: 'endpoint_not_allowed' } })
  })
})

describe('POST /nodes/register without a valid token', () => {
  it.each([
    ['no token', undefined],
    ['a malformed token', 'Bearer not-a-registration-token'],
    ['another scheme', `Basic cicreg_${'t'.repeat(43)}`],
  ])('answers 401 with %s before reading a body that never ends', async (_, authorization) => {
    let pulled = 0
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++
        controller.enqueue(new Uint8Array(64 * 1024))
      },
    })
    const res = await call('/nodes/register', {
      method: 'POST',
      body: endless,
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      // @ts-expect-error duplex is required by fetch for a streamed request body
      duplex: 'half',
    })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_registration_token' } })
    expect(pulled).toBeLessThan(8) // at most what the stream had queued when the answer came: it was never read
  })
})
