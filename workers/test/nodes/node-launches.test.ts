// Node launches through the Worker: admin launch/terminate/relaunch/status, the runner's endpoints, node
// self-registration and promotion to ready, and routing to the launched node. The runner itself is replaced
// by direct calls to its endpoints and the local pull-queue shim (the real runner is tested in Node).
import { runDurableObjectAlarm } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it, vi } from 'vitest'
import { admin, api, call, registerNode, seedTenant, uniqueModel } from '../helpers/gateway.ts'
import { ack, decode, pull, pullFor, queueApi, runner } from '../helpers/node-ops.ts'

const SPEC = { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', model: 'cic-demo-llm' }

async function launch(body: Record<string, unknown> = SPEC): Promise<{ cluster_name: string; node_id: string }> {
  const res = await admin('/admin/nodes/launch', { method: 'POST', json: body })
  if (res.status !== 202) throw new Error(`launch -> ${res.status}: ${await res.text()}`)
  return (await res.json()) as { cluster_name: string; node_id: string }
}

const status = async (cluster: string) => (await (await admin(`/admin/nodes/${cluster}/status`)).json()) as Record<string, unknown>

/** Launch -> the runner takes it (launching) -> credentials. The launch message is acked. */
async function launchAndMint(body: Record<string, unknown> = SPEC) {
  const { cluster_name: cluster, node_id: nodeId } = await launch(body)
  await ack((await pullFor(cluster)).wire.lease_id)
  expect(await (await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'launching' } })).json()).toMatchObject({
    status: 'launching',
    applied: true,
  })
  const creds = (await (await runner(`/runner/nodes/${cluster}/credentials`)).json()) as { register_token: string; vllm_api_key: string }
  return { cluster, nodeId, ...creds }
}

const register = (token: string, json: unknown) => call('/nodes/register', { method: 'POST', json, headers: { authorization: `Bearer ${token}` } })

async function launchToReady(endpoint: string, model: string) {
  const launched = await launchAndMint({ ...SPEC, model })
  const res = await register(launched.register_token, { cluster_name: launched.cluster, endpoint, models: [model] })
  expect(res.status).toBe(200)
  await vi.waitFor(async () => expect((await status(launched.cluster)).status).toBe('ready'), { timeout: 5_000, interval: 50 })
  return launched
}

describe('POST /admin/nodes/launch', () => {
  it('answers 202, records a queued node with the defaults, and enqueues a launch message without secrets', async () => {
    const res = await admin('/admin/nodes/launch', { method: 'POST', json: SPEC })
    expect(res.status).toBe(202)
    const body = (await res.json()) as { cluster_name: string; node_id: string; status: string }
    expect(body).toMatchObject({
      cluster_name: expect.stringMatching(/^cic-a100-80gb-[0-9a-f]{8}$/),
      node_id: expect.stringMatching(/^node_/),
      status: 'launching',
    })
    expect(await status(body.cluster_name)).toMatchObject({
      status: 'queued',
      launched_by_cic: true,
      endpoint: null,
      models: ['cic-demo-llm'],
      provider: 'gcp',
      region: 'us-central1',
      gpu: 'A100-80GB:1',
      spec: { ...SPEC, gpu_count: 1, use_spot: false, disk_size: 256, vllm_args: [] },
    })
    const { wire, message } = await pullFor(body.cluster_name)
    expect(wire.metadata['CF-Content-Type']).toBe('json')
    expect(message).toMatchObject({ op: 'launch', cluster_name: body.cluster_name, node_id: body.node_id, spec: { model: 'cic-demo-llm', gpu: 'A100-80GB' } })
    expect(atob(wire.body)).not.toMatch(/token|api_key|sk-/i)
    await ack(wire.lease_id)
  })

  it.each([
    [{ ...SPEC, provider: 'moon' }, 'provider'],
    [{ ...SPEC, gpu: 'A100 80GB' }, 'gpu'],
    [{ ...SPEC, model: '$(curl evil)' }, 'model'],
    [{ provider: 'aws', gpu: 'A100' }, 'model'],
    [{ ...SPEC, gpu_count: 0 }, 'gpu_count'],
    [{ ...SPEC, disk_size: '256' }, 'disk_size'],
    [{ ...SPEC, use_spot: 'yes' }, 'use_spot'],
    [{ ...SPEC, region: 'US East' }, 'region'],
    [{ ...SPEC, vllm_args: ['--max-model-len=8192', '--api-key=mine'] }, 'vllm_args.1'],
    [{ ...SPEC, vllm_args: ['--max-model-len 8192'] }, 'vllm_args.0'],
  ])('returns 400 naming the bad field (%#: %s)', async (body, param) => {
    const res = await admin('/admin/nodes/launch', { method: 'POST', json: body })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param } })
  })

  it.each([
    // Each bypass of the old reserved-flag guard (vLLM maps _ to -, accepts prefixes and short forms).
    [['--api_key=x'], 'vllm_args.0', '--api_key'],
    [['--max-model-len=4096', '--api-ke=x'], 'vllm_args.1', '--api-ke'],
    [['-tp=1'], 'vllm_args.0', '-tp=1'],
    [['--served_model_name=x'], 'vllm_args.0', '--served_model_name'],
    [['--made-up-flag'], 'vllm_args.0', '--made-up-flag'],
    [['--trust-remote-code'], 'vllm_args.0', '--trust-remote-code'],
  ])('refuses vllm_args %j with a 400 naming the flag', async (vllm_args, param, flag) => {
    const res = await admin('/admin/nodes/launch', { method: 'POST', json: { ...SPEC, vllm_args } })
    expect(res.status).toBe(400)
    const { error } = (await res.json()) as { error: { param: string; message: string } }
    expect(error).toMatchObject({ type: 'invalid_request_error', param })
    expect(error.message).toContain(flag)
  })

  it.each([
    [{ ...SPEC, provider: 'kubernetes' }, 'provider', /maps node ports.*tunnel/],
    [{ ...SPEC, provider: 'runpod' }, 'provider', /maps node ports.*tunnel/],
    [{ ...SPEC, provider: 'vast' }, 'provider', /runner image cannot launch on 'vast'.*Supported: aws, gcp, azure, lambda, oci/],
    [{ ...SPEC, provider: 'aws', region: 'us-east-1' }, 'gpu_count', /AWS sells A100-80GB only in 8-GPU machines/],
    [{ ...SPEC, provider: 'aws', gpu: 'A100', gpu_count: 4 }, 'gpu_count', /8-GPU/],
  ])('refuses a launch the runner or the cloud can never satisfy (%#: %s)', async (body, param, message) => {
    const res = await admin('/admin/nodes/launch', { method: 'POST', json: body })
    expect(res.status).toBe(400)
    const { error } = (await res.json()) as { error: { param: string; message: string } }
    expect(error.param).toBe(param)
    expect(error.message).toMatch(message)
  })

  it('accepts AWS A100 as 8 GPUs, and --trust-remote-code only with allow_remote_code, recorded in the audit row', async () => {
    expect((await admin('/admin/nodes/launch', { method: 'POST', json: { ...SPEC, provider: 'aws', region: 'us-east-1', gpu_count: 8 } })).status).toBe(202)
    const res = await admin('/admin/nodes/launch', { method: 'POST', json: { ...SPEC, vllm_args: ['--trust-remote-code'], allow_remote_code: true } })
    expect(res.status).toBe(202)
    const { node_id: nodeId } = (await res.json()) as { node_id: string }
    const row = await env.DB.prepare("SELECT after FROM audit_log WHERE action = 'node.launch' AND target = ?").bind(nodeId).first<{ after: string }>()
    expect(JSON.parse(row?.after ?? '{}')).toMatchObject({ spec: { vllm_args: ['--trust-remote-code'], allow_remote_code: true } })
  })

  it('refuses unknown fields and requests without the admin token', async () => {
    expect((await admin('/admin/nodes/launch', { method: 'POST', json: { ...SPEC, accelerator: 'H100' } })).status).toBe(400)
    expect((await call('/admin/nodes/launch', { method: 'POST', json: SPEC })).status).toBe(401)
  })
})

describe('runner endpoints', () => {
  it('refuse a missing or wrong runner token, and the admin token', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-runner-token-000000' }, { authorization: 'Bearer test-admin-token-0123456789' }] as Record<
      string,
      string
    >[]) {
      const res = await call('/runner/nodes/cic-x-00000000/status', { method: 'POST', json: { status: 'launching' }, headers })
      expect(res.status).toBe(401)
      expect(await res.json()).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_runner_token' } })
    }
  })

  it('apply reports the lifecycle allows, ignore the others, and count attempts', async () => {
    const { cluster_name: cluster } = await launch()
    expect((await runner(`/runner/nodes/${cluster}/credentials`)).status).toBe(409) // not launching yet
    const report = async (json: unknown) => (await runner(`/runner/nodes/${cluster}/status`, { json })).json()
    expect(await report({ status: 'launching' })).toMatchObject({ cluster_name: cluster, status: 'launching', applied: true })
    expect(await report({ status: 'terminated' })).toMatchObject({ status: 'launching', applied: false })
    expect(await report({ status: 'queued', error: 'no_capacity: InsufficientInstanceCapacity' })).toMatchObject({ status: 'queued', applied: true })
    expect(await status(cluster)).toMatchObject({ status: 'queued', last_error: 'no_capacity: InsufficientInstanceCapacity', attempts: 1 })
    expect(await report({ status: 'launching' })).toMatchObject({ status: 'launching', applied: true })
    expect(await status(cluster)).toMatchObject({ status: 'launching', last_error: null, attempts: 2 })
    expect(await report({ status: 'failed', error: 'auth: credentials not found' })).toMatchObject({ status: 'failed', applied: true })
    expect(await status(cluster)).toMatchObject({ status: 'failed', last_error: 'auth: credentials not found' })
  })

  it('mint fresh credentials for the attempt in progress and keep only the sealed key and the token hash', async () => {
    const { cluster, nodeId, register_token: token, vllm_api_key: key } = await launchAndMint()
    expect(token).toMatch(/^cicreg_[A-Za-z0-9_-]{43}$/)
    expect(key).toMatch(/^sk-node-[A-Za-z0-9_-]{43}$/)
    expect(await (await admin(`/admin/nodes/${nodeId}`)).json()).toMatchObject({ has_api_key: true })
    const row = await env.DB.prepare(
      'SELECT n.api_key_ciphertext AS sealed, l.register_token_hash AS hash FROM nodes n JOIN node_launches l ON l.node_id = n.id WHERE n.name = ?',
    )
      .bind(cluster)
      .first<{ sealed: string; hash: string }>()
    expect(row?.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(`${row?.sealed} ${row?.hash}`).not.toContain(key)
    expect(`${row?.sealed} ${row?.hash}`).not.toContain(token)
  })

  it('answer 404 for an unknown cluster and 400 for an unknown status', async () => {
    expect((await runner('/runner/nodes/cic-nope-00000000/status', { json: { status: 'launching' } })).status).toBe(404)
    const { cluster_name: cluster } = await launch()
    const res = await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'ready' } })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { param: 'status' } })
  })
})

describe('node registration', () => {
  it('makes the node ready in the same call when /health answers, and routes its model to it with its own key', async () => {
    const { key } = await seedTenant()
    const launched = await launchAndMint()
    const res = await register(launched.register_token, {
      cluster_name: launched.cluster,
      endpoint: `${inject('standins').healthy}/`,
      models: ['cic-demo-llm'],
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ cluster_name: launched.cluster, node_id: launched.nodeId, status: 'ready' }) // first health check passed
    expect(await status(launched.cluster)).toMatchObject({ status: 'ready', endpoint: inject('standins').healthy })

    const requestId = `req-launch-${crypto.randomUUID()}`
    const chat = await api(key, '/v1/chat/completions', {
      method: 'POST',
      json: { model: 'cic-demo-llm', messages: [{ role: 'user', content: 'hi' }] },
      headers: { 'x-request-id': requestId },
    })
    expect(chat.status).toBe(200)
    const stats = (await (await fetch(`${inject('standins').healthy}/_standin/stats`)).json()) as { recent: { headers: Record<string, string> }[] }
    const seen = stats.recent.find((r) => r.headers['x-request-id']?.startsWith(`${requestId}/`))
    expect(seen?.headers.authorization).toBe(`Bearer ${launched.vllm_api_key}`)
  })

  it("refuses a wrong, missing or other node's token with one indistinguishable 401", async () => {
    const a = await launchAndMint()
    const b = await launchAndMint()
    const body = { cluster_name: a.cluster, endpoint: 'http://10.0.0.1:8000', models: ['m'] }
    for (const token of ['', 'cicreg_wrong', b.register_token]) {
      const res = await register(token, body)
      expect(res.status).toBe(401)
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_registration_token' } })
    }
    expect((await register(a.register_token, { ...body, cluster_name: 'cic-unknown-00000000' })).status).toBe(401)
    expect((await status(a.cluster)).status).toBe('launching')
  })

  it('validates the body and refuses a node that is being terminated', async () => {
    const a = await launchAndMint()
    const bad = await register(a.register_token, { cluster_name: a.cluster, endpoint: 'ftp://x', models: ['m'] })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: { param: 'endpoint' } })
    expect((await admin(`/admin/nodes/${a.cluster}/terminate`, { method: 'POST' })).status).toBe(202)
    const late = await register(a.register_token, { cluster_name: a.cluster, endpoint: 'http://10.0.0.1:8000', models: ['m'] })
    expect(late.status).toBe(409)
  })

  it('leaves a node that never answers /health warming, out of routing', async () => {
    const a = await launchAndMint()
    const res = await register(a.register_token, { cluster_name: a.cluster, endpoint: 'http://127.0.0.1:9', models: ['never-healthy'] })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'warming' }) // its first health check failed
    expect((await status(a.cluster)).status).toBe('warming')
  })
})

describe('terminate and relaunch', () => {
  it('drains at once, enqueues the terminate, and ends terminated without a key once the runner reports', async () => {
    const { key } = await seedTenant()
    const model = uniqueModel('draining')
    const launched = await launchToReady(inject('standins').healthy, model)
    const res = await admin(`/admin/nodes/${launched.cluster}/terminate`, { method: 'POST' })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ cluster_name: launched.cluster, node_id: launched.nodeId, status: 'terminating' })
    expect((await status(launched.cluster)).status).toBe('draining')
    // Out of routing at once: the only node for this model is draining.
    const chat = await api(key, '/v1/chat/completions', { method: 'POST', json: { model, messages: [{ role: 'user', content: 'hi' }] } })
    expect(chat.status).toBe(503)
    const { wire, message } = await pullFor(launched.cluster)
    expect(message).toMatchObject({ op: 'terminate', cluster_name: launched.cluster, node_id: launched.nodeId })
    expect(await (await runner(`/runner/nodes/${launched.cluster}/status`, { json: { status: 'terminating' } })).json()).toMatchObject({ applied: true })
    expect(await (await runner(`/runner/nodes/${launched.cluster}/status`, { json: { status: 'terminated' } })).json()).toMatchObject({
      status: 'terminated',
      applied: true,
    })
    await ack(wire.lease_id)
    expect(await (await admin(`/admin/nodes/${launched.nodeId}`)).json()).toMatchObject({ status: 'terminated', has_api_key: false })
    // Terminated is out of the fleet: its model is unknown again (404), no longer "busy" (503).
    const after = await api(key, '/v1/chat/completions', { method: 'POST', json: { model, messages: [{ role: 'user', content: 'hi' }] } })
    expect(after.status).toBe(404)
    expect((await admin(`/admin/nodes/${launched.cluster}/terminate`, { method: 'POST' })).status).toBe(409)
    // A late launch report (redelivered message) changes nothing.
    expect(await (await runner(`/runner/nodes/${launched.cluster}/status`, { json: { status: 'launching' } })).json()).toMatchObject({
      status: 'terminated',
      applied: false,
    })
  })

  it('sends the terminate only once vLLM reports nothing running or waiting, so sky down cuts no request', async () => {
    const endpoint = inject('pools').launches[0]!
    const knobs = (json: unknown) => fetch(`${endpoint}/_standin/knobs`, { method: 'POST', body: JSON.stringify(json) })
    await knobs({ queueDepth: 2 }) // vllm:num_requests_waiting 2: work still on the node
    const launched = await launchToReady(endpoint, 'pool-1')
    expect((await admin(`/admin/nodes/${launched.cluster}/terminate`, { method: 'POST' })).status).toBe(202)
    expect((await status(launched.cluster)).status).toBe('draining')
    await new Promise((r) => setTimeout(r, 300)) // the queue would have delivered a message by now
    const early = (await pull({ batch_size: 100, visibility_timeout_ms: 1_000 })).map((wire) => ({ wire, message: decode(wire) }))
    await queueApi('ack', { retries: early.map((m) => ({ lease_id: m.wire.lease_id, delay_seconds: 0 })) })
    expect(early.filter((m) => m.message.cluster_name === launched.cluster)).toEqual([])

    await knobs({ queueDepth: 0 })
    expect(await runDurableObjectAlarm(env.NODE_MONITOR.getByName(`node:${launched.nodeId}`))).toBe(true) // the next health check
    const { wire, message } = await pullFor(launched.cluster)
    expect(message).toMatchObject({ op: 'terminate', cluster_name: launched.cluster, node_id: launched.nodeId })
    await ack(wire.lease_id)
  })

  it('relaunches a failed node with the same spec, and refuses to relaunch a live one', async () => {
    const { cluster_name: cluster } = await launch({ ...SPEC, gpu: 'H100', gpu_count: 2, vllm_args: ['--max-model-len=4096'] })
    await ack((await pullFor(cluster)).wire.lease_id)
    await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'launching' } })
    expect((await admin(`/admin/nodes/${cluster}/relaunch`, { method: 'POST' })).status).toBe(409)
    await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'failed', error: 'quota: VcpuLimitExceeded' } })
    const res = await admin(`/admin/nodes/${cluster}/relaunch`, { method: 'POST' })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ cluster_name: cluster, status: 'launching' })
    expect(await status(cluster)).toMatchObject({ status: 'queued', last_error: null })
    const { wire, message } = await pullFor(cluster)
    expect(message).toMatchObject({ op: 'launch', spec: { gpu: 'H100', gpu_count: 2, vllm_args: ['--max-model-len=4096'] } })
    await ack(wire.lease_id)
  })

  it('refuses to relaunch a node whose stored spec a launch would refuse now (stored before the vllm_args allowlist)', async () => {
    const { cluster_name: cluster } = await launch(SPEC)
    await ack((await pullFor(cluster)).wire.lease_id)
    await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'failed', error: 'quota: VcpuLimitExceeded' } })
    const stored = JSON.stringify({ ...SPEC, gpu_count: 1, use_spot: false, disk_size: 256, vllm_args: ['--api_key=x'] })
    await env.DB.prepare('UPDATE node_launches SET spec = ? WHERE cluster_name = ?').bind(stored, cluster).run()
    const res = await admin(`/admin/nodes/${cluster}/relaunch`, { method: 'POST' })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_launch_spec', param: 'vllm_args.0', message: expect.stringContaining('--api_key') } })
    expect(await status(cluster)).toMatchObject({ status: 'failed' })
  })

  it('answers 404 for unknown nodes and 409 for nodes registered by hand', async () => {
    expect((await admin('/admin/nodes/cic-nope-00000000/terminate', { method: 'POST' })).status).toBe(404)
    expect((await admin('/admin/nodes/cic-nope-00000000/status')).status).toBe(404)
    await registerNode('http://10.1.1.1:8000', ['byo-model'], { name: 'byo-node-1' })
    const res = await admin('/admin/nodes/byo-node-1/terminate', { method: 'POST' })
    expect(res.status).toBe(409)
    expect(await res.json()).toMatchObject({ error: { code: 'node_not_launched' } })
    expect(await status('byo-node-1')).toMatchObject({ status: 'warming', launched_by_cic: false }) // unchanged: it never answered a health check
  })

  it('refuses to delete a launched node that may still be running in the cloud', async () => {
    const { nodeId } = await launchAndMint()
    const res = await admin(`/admin/nodes/${nodeId}`, { method: 'DELETE' })
    expect(res.status).toBe(409)
    expect(await res.json()).toMatchObject({ error: { code: 'node_still_launched' } })
  })
})
