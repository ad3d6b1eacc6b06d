// The /metrics series read from D1 at scrape time for the alert rules: pending dead letters (usage and node-ops),
// meter pushes Stripe has not counted, nodes by lifecycle status (every status, 0 included) and node launch
// failures (runner report, enqueue failure, launch deadline; not a ready node lost to health checks). Each
// reflects rows seeded here (as deltas: storage is shared by this file's tests), through the strict parser.
import { runDurableObjectAlarm } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { EXPORTED_NODE_STATUSES } from '../../src/services/metrics/state-gauges.ts'
import { admin, call } from '../helpers/gateway.ts'
import { ack, pullFor, runner } from '../helpers/node-ops.ts'
import { parsePrometheusText, sampleValue, type PromFamily } from '../helpers/prom-text.ts'

const METRICS_TOKEN = 'test-metrics-token-0123456789'
const SPEC = { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', model: 'cic-demo-llm' }
const LAUNCH_TIMEOUT_MS = 45 * 60_000
const suffix = () => crypto.randomUUID().replaceAll('-', '').slice(0, 8)

async function scrape(): Promise<Map<string, PromFamily>> {
  const res = await call('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  expect(res.status).toBe(200)
  return parsePrometheusText(await res.text()) // throws on any format error
}
const value = (families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}) => sampleValue(families, name, labels)

const run = (sql: string, ...params: unknown[]) =>
  env.DB.prepare(sql)
    .bind(...params)
    .run()

async function launch(): Promise<{ cluster: string; nodeId: string }> {
  const res = await admin('/admin/nodes/launch', { method: 'POST', json: SPEC })
  expect(res.status).toBe(202)
  const { cluster_name: cluster, node_id: nodeId } = (await res.json()) as { cluster_name: string; node_id: string }
  await ack((await pullFor(cluster)).wire.lease_id)
  return { cluster, nodeId }
}

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('scrape-time gauges from D1', () => {
  it('counts pending dead letters, uncounted meter pushes, and nodes by status (every status exported)', async () => {
    const before = await scrape()
    const now = Date.now()
    const s = suffix()
    for (const [i, status] of (['pending', 'pending', 'replayed'] as const).entries()) {
      await run(
        `INSERT INTO usage_dead_letters (id, message_id, reason, body, attempts, first_seen_at, last_seen_at, status)
        VALUES (?, ?, 'retries_exhausted', '{}', 1, ?, ?, ?)`,
        `msg:u-${s}-${i}`,
        `u-${s}-${i}`,
        now,
        now,
        status,
      )
    }
    for (const [i, status] of (['pending', 'pending', 'pending', 'replayed'] as const).entries()) {
      await run(
        `INSERT INTO node_ops_dead_letters (id, message_id, reason, body, attempts, first_seen_at, last_seen_at, status)
        VALUES (?, ?, 'schema', '{}', 1, ?, ?, ?)`,
        `msg:n-${s}-${i}`,
        `n-${s}-${i}`,
        now,
        now,
        status,
      )
    }
    for (const [i, status] of (['pending', 'sent', 'failed', 'failed', 'rejected'] as const).entries()) {
      await run(
        `INSERT INTO meter_pushes (identifier, tenant_id, event_name, hour_start, seq, stripe_customer_id, value, status, created_at)
        VALUES (?, ?, 'cic_tokens', ?, 0, 'cus_x', 10, ?, ?)`,
        `mp-${s}-${i}`,
        `t-${s}`,
        i * 3_600_000,
        status,
        now,
      )
    }
    const seeded = { queued: 1, ready: 2, terminated: 1 }
    for (const [status, n] of Object.entries(seeded)) {
      for (let i = 0; i < n; i++) {
        await run(
          `INSERT INTO nodes (id, name, endpoint, models, status, created_at) VALUES (?, ?, '', '[]', ?, ?)`,
          `node_${s}_${status}_${i}`,
          `n-${s}-${status}-${i}`,
          status,
          now,
        )
      }
    }

    const after = await scrape()
    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels)
    expect(delta('cic_usage_dead_letters_pending')).toBe(2)
    expect(delta('cic_node_ops_dead_letters_pending')).toBe(3)
    expect(delta('cic_meter_pushes_failed')).toBe(3) // failed + rejected; pending and sent are not
    for (const status of EXPORTED_NODE_STATUSES) {
      expect(after.get('cic_nodes')?.samples.some((x) => x.labels.status === status)).toBe(true) // 0 is a sample, not an absence
      expect(delta('cic_nodes', { status })).toBe(seeded[status as keyof typeof seeded] ?? 0)
    }
    expect(EXPORTED_NODE_STATUSES).toEqual(['queued', 'launching', 'warming', 'ready', 'draining', 'terminating', 'terminated', 'failed'])
    expect(after.get('cic_nodes')?.type).toBe('gauge')
  })

  it('counts a failed launch from the runner, from the queue and from the launch deadline, and nothing else', async () => {
    const before = await scrape()
    const failures = () => scrape().then((f) => value(f, 'cic_node_launch_failures_total') - value(before, 'cic_node_launch_failures_total'))

    // The runner reports a launch it cannot make (a `launching` report first: not a failure).
    const byRunner = await launch()
    await runner(`/runner/nodes/${byRunner.cluster}/status`, { json: { status: 'launching' } })
    expect(await failures()).toBe(0)
    expect(await (await runner(`/runner/nodes/${byRunner.cluster}/status`, { json: { status: 'failed', error: 'quota' } })).json()).toMatchObject({
      applied: true,
    })
    // A repeated report changes nothing and is not counted again.
    expect(await (await runner(`/runner/nodes/${byRunner.cluster}/status`, { json: { status: 'failed', error: 'quota' } })).json()).toMatchObject({
      applied: false,
    })
    expect(await failures()).toBe(1)

    // The launch could not be queued.
    vi.spyOn(env.NODE_OPS, 'send').mockRejectedValueOnce(new Error('queue unavailable'))
    expect((await admin('/admin/nodes/launch', { method: 'POST', json: SPEC })).status).toBe(503)
    vi.restoreAllMocks()
    expect(await failures()).toBe(2)

    // The NodeMonitor's launch deadline (inside a Durable Object: counted from its audit row).
    const stuck = await launch()
    await runner(`/runner/nodes/${stuck.cluster}/status`, { json: { status: 'launching' } })
    const monitor = env.NODE_MONITOR.getByName(`node:${stuck.nodeId}`)
    expect(await runDurableObjectAlarm(monitor)).toBe(true)
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    vi.setSystemTime(Date.now() + LAUNCH_TIMEOUT_MS + 1_000)
    expect(await runDurableObjectAlarm(monitor)).toBe(true)
    vi.useRealTimers()
    expect(await env.DB.prepare('SELECT status FROM nodes WHERE id = ?').bind(stuck.nodeId).first<string>('status')).toBe('failed')
    await ack((await pullFor(stuck.cluster)).wire.lease_id) // its terminate
    expect(await failures()).toBe(3)

    // A ready node lost to health checks is written the same way, from `ready`: a node down, not a failed launch.
    await run(
      `INSERT INTO audit_log (at, actor, action, target, before, after) VALUES (?, 'node-monitor', 'node.failed', ?, '{"status":"ready"}', '{"status":"failed"}')`,
      Date.now(),
      `node_${suffix()}`,
    )
    expect(await failures()).toBe(3)
    expect((await scrape()).get('cic_node_launch_failures_total')?.type).toBe('counter')
  })
})
