// When the node-ops queue refuses a launch or relaunch, the node is marked failed, and that status change is
// audited like every other one (who asked, before and after).
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { admin } from '../helpers/gateway.ts'
import { ack, pullFor, runner } from '../helpers/node-ops.ts'

const SPEC = { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', model: 'cic-demo-llm' }
const audits = (nodeId: string, action: string) =>
  env.DB.prepare('SELECT actor, before, after FROM audit_log WHERE target = ? AND action = ?')
    .bind(nodeId, action)
    .all<{ actor: string; before: string; after: string }>()

afterEach(() => {
  vi.restoreAllMocks()
})

describe('enqueue failures', () => {
  it('audits the failed status when the launch cannot be queued', async () => {
    vi.spyOn(env.NODE_OPS, 'send').mockRejectedValueOnce(new Error('queue unavailable'))
    const res = await admin('/admin/nodes/launch', { method: 'POST', json: SPEC })
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ error: { code: 'queue_unavailable' } })
    const node = await env.DB.prepare("SELECT id, status FROM nodes WHERE last_error LIKE 'The launch could not be queued%'").first<{
      id: string
      status: string
    }>()
    expect(node?.status).toBe('failed')
    const { results } = await audits(node?.id ?? '', 'node.launch_enqueue_failed')
    expect(results).toHaveLength(1)
    expect(results[0]).toMatchObject({ actor: 'admin' })
    expect(JSON.parse(results[0]?.before ?? '{}')).toEqual({ status: 'queued' })
    expect(JSON.parse(results[0]?.after ?? '{}')).toEqual({ status: 'failed' })
  })

  it('audits the failed status when the relaunch cannot be queued', async () => {
    const launched = (await (await admin('/admin/nodes/launch', { method: 'POST', json: SPEC })).json()) as { cluster_name: string; node_id: string }
    await ack((await pullFor(launched.cluster_name)).wire.lease_id)
    await runner(`/runner/nodes/${launched.cluster_name}/status`, { json: { status: 'failed', error: 'quota: VcpuLimitExceeded' } })
    vi.spyOn(env.NODE_OPS, 'send').mockRejectedValueOnce(new Error('queue unavailable'))
    expect((await admin(`/admin/nodes/${launched.cluster_name}/relaunch`, { method: 'POST' })).status).toBe(503)
    const { results } = await audits(launched.node_id, 'node.relaunch_enqueue_failed')
    expect(results.map((r) => [JSON.parse(r.before), JSON.parse(r.after)])).toEqual([[{ status: 'queued' }, { status: 'failed' }]])
  })
})
