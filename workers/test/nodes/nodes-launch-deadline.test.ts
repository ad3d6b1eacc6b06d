// A launched node's monitor from the launch on: an attempt stuck launching/warming past NODE_LAUNCH_TIMEOUT_MS
// (default 45 min) is failed with the reason and its terminate queued; a launched node lost to health checks
// (spot preemption) is failed and torn down instead of revived; relaunch stays available. Also: a monitor whose
// first check throws still has its alarm armed. Health checks are driven with runDurableObjectAlarm, the clock
// with fake Date.
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { admin, call } from '../helpers/gateway.ts'
import { ack, pullFor, runner } from '../helpers/node-ops.ts'

const SPEC = { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', model: 'cic-demo-llm', use_spot: true }
const LAUNCH_TIMEOUT_MS = 45 * 60_000

const monitor = (nodeId: string) => env.NODE_MONITOR.getByName(`node:${nodeId}`)
const nodeRow = (nodeId: string) =>
  env.DB.prepare('SELECT status, last_error FROM nodes WHERE id = ?').bind(nodeId).first<{ status: string; last_error: string | null }>()
const hasAlarm = (nodeId: string) => runInDurableObject(monitor(nodeId), async (_i, state) => (await state.storage.getAlarm()) !== null)

async function launchToLaunching() {
  const res = await admin('/admin/nodes/launch', { method: 'POST', json: SPEC })
  expect(res.status).toBe(202)
  const { cluster_name: cluster, node_id: nodeId } = (await res.json()) as { cluster_name: string; node_id: string }
  await ack((await pullFor(cluster)).wire.lease_id)
  await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'launching' } })
  return { cluster, nodeId }
}

async function expectTerminateQueued(cluster: string, nodeId: string) {
  const { wire, message } = await pullFor(cluster)
  expect(message).toMatchObject({ op: 'terminate', cluster_name: cluster, node_id: nodeId })
  await ack(wire.lease_id)
}

afterEach(() => {
  vi.useRealTimers()
})

describe('launch deadline', () => {
  it('fails a node stuck launching past the deadline, queues its terminate, and lets it be relaunched', async () => {
    const { cluster, nodeId } = await launchToLaunching()
    expect(await hasAlarm(nodeId)).toBe(true) // watched from the launch on
    expect(await runDurableObjectAlarm(monitor(nodeId))).toBe(true) // sees the attempt start
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    vi.setSystemTime(Date.now() + LAUNCH_TIMEOUT_MS - 60_000)
    expect(await runDurableObjectAlarm(monitor(nodeId))).toBe(true)
    expect((await nodeRow(nodeId))?.status).toBe('launching') // a minute early: nothing yet

    vi.setSystemTime(Date.now() + 61_000)
    expect(await runDurableObjectAlarm(monitor(nodeId))).toBe(true)
    expect(await nodeRow(nodeId)).toEqual({ status: 'failed', last_error: expect.stringMatching(/^launch deadline passed: still launching after 45 min/) })
    const audit = await env.DB.prepare("SELECT actor FROM audit_log WHERE target = ? AND action = 'node.failed'").bind(nodeId).first<{ actor: string }>()
    expect(audit?.actor).toBe('node-monitor')
    await expectTerminateQueued(cluster, nodeId)
    expect(await hasAlarm(nodeId)).toBe(false) // handed to the runner

    // The runner tears it down (a failed node may be terminated), and the node can be launched again.
    expect(await (await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'terminating' } })).json()).toMatchObject({ applied: true })
    expect(await (await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'terminated' } })).json()).toMatchObject({
      status: 'terminated',
      applied: true,
    })
    expect((await admin(`/admin/nodes/${cluster}/relaunch`, { method: 'POST' })).status).toBe(202)
    await ack((await pullFor(cluster)).wire.lease_id)
    expect(await hasAlarm(nodeId)).toBe(true) // the relaunch is watched again, with its own deadline
    await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'launching' } })
    expect(await runDurableObjectAlarm(monitor(nodeId))).toBe(true)
    expect((await nodeRow(nodeId))?.status).toBe('launching')
  })

  it('fails a node registered but never healthy (warming) once the deadline passes', async () => {
    const { cluster, nodeId } = await launchToLaunching()
    const { register_token: token } = (await (await runner(`/runner/nodes/${cluster}/credentials`)).json()) as { register_token: string }
    const reg = await call('/nodes/register', {
      method: 'POST',
      json: { cluster_name: cluster, endpoint: 'http://127.0.0.1:9', models: [SPEC.model] },
      headers: { authorization: `Bearer ${token}` },
    })
    expect(reg.status).toBe(200)
    expect((await nodeRow(nodeId))?.status).toBe('warming')
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    vi.setSystemTime(Date.now() + LAUNCH_TIMEOUT_MS + 1_000)
    expect(await runDurableObjectAlarm(monitor(nodeId))).toBe(true)
    expect(await nodeRow(nodeId)).toMatchObject({ status: 'failed', last_error: expect.stringMatching(/^launch deadline passed: still warming/) })
    await expectTerminateQueued(cluster, nodeId)
  })

  it('never times out a node waiting in the queue for capacity', async () => {
    const { cluster, nodeId } = await launchToLaunching()
    await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'queued', error: 'no_capacity: retrying' } })
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    vi.setSystemTime(Date.now() + 3 * LAUNCH_TIMEOUT_MS)
    expect(await runDurableObjectAlarm(monitor(nodeId))).toBe(true)
    expect((await nodeRow(nodeId))?.status).toBe('queued')
  })
})

describe('a launched node lost to health checks (spot preemption)', () => {
  it('is failed and torn down instead of revived', async () => {
    const { cluster, nodeId } = await launchToLaunching()
    const { register_token: token } = (await (await runner(`/runner/nodes/${cluster}/credentials`)).json()) as { register_token: string }
    await call('/nodes/register', {
      method: 'POST',
      json: { cluster_name: cluster, endpoint: 'http://127.0.0.1:9', models: [SPEC.model] },
      headers: { authorization: `Bearer ${token}` },
    })
    await env.DB.prepare("UPDATE nodes SET status = 'ready' WHERE id = ?").bind(nodeId).run() // it served, then vanished
    for (let i = 0; i < 2; i++) expect(await runDurableObjectAlarm(monitor(nodeId))).toBe(true) // plus the check at registration: 3
    expect(await nodeRow(nodeId)).toMatchObject({ status: 'failed', last_error: expect.stringContaining('consecutive health checks failed') })
    await expectTerminateQueued(cluster, nodeId)
    expect(await runDurableObjectAlarm(monitor(nodeId))).toBe(false) // no more checks: it is not brought back
    expect(await (await runner(`/runner/nodes/${cluster}/status`, { json: { status: 'terminating' } })).json()).toMatchObject({
      status: 'terminating',
      applied: true,
    })
  })
})

describe('monitor schedule', () => {
  it('keeps an alarm armed when the first check throws, and checks the node at that alarm', async () => {
    await env.DB.prepare(
      "INSERT INTO nodes (id, name, endpoint, models, status, api_key_ciphertext) VALUES ('node_badkey', 'badkey', 'http://127.0.0.1:9', '[\"x\"]', 'warming', 'not-a-sealed-key')",
    ).run()
    const first = await monitor('node_badkey').start('node_badkey') // the check threw (the key cannot be opened)
    expect(first.health.lastCheckAt).toBeNull()
    expect(await hasAlarm('node_badkey')).toBe(true)
    await env.DB.prepare("UPDATE nodes SET api_key_ciphertext = NULL WHERE id = 'node_badkey'").run()
    expect(await runDurableObjectAlarm(monitor('node_badkey'))).toBe(true)
    const snap = await monitor('node_badkey').snapshot()
    expect(snap.health.lastError).toMatch(/GET \/health failed/) // the check ran
    expect(await hasAlarm('node_badkey')).toBe(true)
  })
})
