// The node-ops dead-letter queue: its consumer keeps every job orchestrator-runner gave up on (and any malformed
// message) in D1, logs it at error and counts it in /metrics; the admin lists the rows and replays a job onto
// node-ops at most once, audited, within D1's 100 bound parameters per statement. Drives the Worker's queue()
// handler, its admin routes and the local node-ops pull shim with real local D1.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import worker from '../../src/index.ts'
import type { NodeOpMessage } from '../../src/schemas/node-ops.ts'
import { replayNodeOpDeadLetters } from '../../src/services/nodes/node-ops-dead-letters.ts'
import { admin, call } from '../helpers/gateway.ts'
import { logsOf } from '../helpers/log-lines.ts'
import { ack, pullFor } from '../helpers/node-ops.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.ts'

const METRICS_TOKEN = 'test-metrics-token-0123456789'
const suffix = () => crypto.randomUUID().replaceAll('-', '').slice(0, 8)
const cluster = () => `cic-a100-${suffix()}`

const terminateJob = (name = cluster(), requestedAt = Date.now()): NodeOpMessage => ({
  op: 'terminate',
  cluster_name: name,
  node_id: `node_${suffix()}`,
  requested_at: requestedAt,
})
const launchJob = (name = cluster()): NodeOpMessage => ({
  op: 'launch',
  cluster_name: name,
  node_id: `node_${suffix()}`,
  requested_at: Date.now(),
  spec: { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', gpu_count: 1, model: 'cic-demo-llm', use_spot: false, disk_size: 256, vllm_args: [] },
})
const idOf = (m: NodeOpMessage) => `job:${m.op}:${m.cluster_name}:${m.requested_at}`

type DlqMessage = { id: string; body: unknown; attempts?: number }
async function deliver(messages: DlqMessage[], withEnv: Env = env) {
  const batch = createMessageBatch(
    'node-ops-dlq',
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  )
  const ctx = createExecutionContext()
  await worker.queue(batch, withEnv)
  return getQueueResult(batch, ctx)
}

type View = {
  id: string
  message_id: string
  op: string | null
  cluster_name: string | null
  node_id: string | null
  reason: string
  error: string | null
  body: unknown
  attempts: number
  first_seen_at: number
  last_seen_at: number
  status: string
  replays: number
  replay_error: string | null
}
async function rows(query = ''): Promise<View[]> {
  const res = await admin(`/admin/nodes/dead-letters?limit=500${query}`)
  expect(res.status).toBe(200)
  return (await res.json<{ data: View[] }>()).data
}
const row = async (id: string) => (await rows()).find((r) => r.id === id)
const replay = (json: unknown) => admin('/admin/nodes/dead-letters/replay', { method: 'POST', json })
const pendingGauge = async () => {
  const res = await call('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  expect(res.status).toBe(200)
  return sampleValue(parsePrometheusText(await res.text()), 'cic_node_ops_dead_letters_pending')
}
const sentJobs = (spy: { mock: { calls: unknown[][] } }) => spy.mock.calls.flatMap(([messages]) => (messages as { body: NodeOpMessage }[]).map((m) => m.body))

afterEach(() => {
  vi.restoreAllMocks()
})

describe('node-ops-dlq consumer', () => {
  it('stores a dead-lettered terminate, logs it at error with its kind and cluster, counts it in /metrics and lists it', async () => {
    const before = await pendingGauge()
    const job = terminateJob()
    let result: Awaited<ReturnType<typeof deliver>> | undefined
    const lines = await logsOf(async () => {
      result = await deliver([{ id: `dlq-${job.cluster_name}`, body: job, attempts: 1 }])
    })
    expect(result?.ackAll).toBe(true)
    expect(result?.retryMessages).toEqual([])
    const line = lines.find((l) => l.msg === 'node_ops_dead_letter')
    expect(line).toMatchObject({ level: 'error', op: 'terminate', cluster: job.cluster_name, nodeId: job.node_id, reason: 'retries_exhausted' })
    expect(await row(idOf(job))).toMatchObject({
      message_id: `dlq-${job.cluster_name}`,
      op: 'terminate',
      cluster_name: job.cluster_name,
      node_id: job.node_id,
      reason: 'retries_exhausted',
      error: null,
      body: job,
      attempts: 1,
      status: 'pending',
      replays: 0,
    })
    expect(await pendingGauge()).toBe(before + 1)
  })

  it('stores a malformed message with its raw body and reason schema', async () => {
    const name = cluster()
    const body = { op: 'terminate', cluster_name: name, requested_at: 'yesterday' }
    await deliver([
      { id: `dlq-bad-${name}`, body },
      { id: `dlq-junk-${name}`, body: 'not a job' },
    ])
    expect(await row(`msg:dlq-bad-${name}`)).toMatchObject({
      reason: 'schema',
      op: 'terminate',
      cluster_name: name,
      node_id: null,
      body,
      status: 'pending',
      error: expect.stringContaining('node_id'),
    })
    expect(await row(`msg:dlq-junk-${name}`)).toMatchObject({ reason: 'schema', op: null, cluster_name: null, body: 'not a job' })
  })

  it('keeps one row per job: a redelivery updates last seen, the same job dead-lettered after a replay is pending again', async () => {
    const job = terminateJob()
    await deliver([{ id: `dlq-${job.cluster_name}`, body: job, attempts: 1 }])
    const first = await row(idOf(job))
    await deliver([{ id: `dlq-${job.cluster_name}`, body: job, attempts: 3 }])
    await deliver([{ id: `dlq-${job.cluster_name}`, body: job, attempts: 2 }]) // handled out of order
    const again = (await rows()).filter((r) => r.id === idOf(job))
    expect(again).toHaveLength(1)
    expect(again[0]).toMatchObject({ attempts: 3, first_seen_at: first?.first_seen_at, status: 'pending' })
    expect(again[0]!.last_seen_at).toBeGreaterThanOrEqual(first!.last_seen_at)

    expect(await (await replay({ ids: [idOf(job)] })).json()).toMatchObject({ replayed: 1 })
    await ack((await pullFor(job.cluster_name)).wire.lease_id)
    await deliver([{ id: `dlq-${job.cluster_name}`, body: job, attempts: 4 }]) // the old message again: stays replayed
    expect(await row(idOf(job))).toMatchObject({ status: 'replayed', replays: 1 })
    await deliver([{ id: `dlq2-${job.cluster_name}`, body: job, attempts: 1 }]) // the replayed job failed again
    expect(await row(idOf(job))).toMatchObject({
      status: 'pending',
      message_id: `dlq2-${job.cluster_name}`,
      attempts: 1,
      replays: 1,
      replay_error: 'dead-lettered again after a replay',
    })
  })

  it('retries the batch with backoff when D1 cannot store it', async () => {
    const db = { prepare: (q: string) => env.DB.prepare(q), batch: () => Promise.reject(new Error('D1_ERROR: overloaded')) }
    const result = await deliver([{ id: `dlq-down-${suffix()}`, body: terminateJob(), attempts: 2 }], { ...env, DB: db as unknown as D1Database })
    expect(result.ackAll).toBe(false)
    expect(result.retryMessages).toHaveLength(1)
  })
})

describe('GET /admin/nodes/dead-letters', () => {
  it('is not taken for a node id, filters by status, and answers 400/401 like the other admin routes', async () => {
    expect(await (await admin('/admin/nodes/dead-letters')).json()).toMatchObject({ object: 'list' })
    expect(await (await admin('/admin/nodes/node_nope')).json()).toMatchObject({ error: { code: 'node_not_found' } })
    expect((await rows('&status=replayed')).every((r) => r.status === 'replayed')).toBe(true)
    expect(await (await admin('/admin/nodes/dead-letters?status=lost')).json()).toMatchObject({ error: { type: 'invalid_request_error', param: 'status' } })
    expect((await call('/admin/nodes/dead-letters')).status).toBe(401)
    expect((await call('/admin/nodes/dead-letters/replay', { method: 'POST', json: {} })).status).toBe(401)
    expect(await (await replay({ ids: [] })).json()).toMatchObject({ error: { param: 'ids' } })
  })
})

describe('POST /admin/nodes/dead-letters/replay', () => {
  it('sends a dead-lettered terminate onto node-ops once, audits it, and a second replay sends nothing', async () => {
    const job = terminateJob()
    await deliver([{ id: `dlq-${job.cluster_name}`, body: job }])
    const before = await pendingGauge()
    const sendBatch = vi.spyOn(env.NODE_OPS, 'sendBatch')

    const first = await replay({ ids: [idOf(job)] })
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({
      object: 'node_ops_dead_letter_replay',
      replayed: 1,
      ids: [idOf(job)],
      already_replayed: [],
      discarded: [],
      busy: [],
      invalid: [],
      not_found: [],
    })
    expect(sentJobs(sendBatch)).toEqual([job])
    const { wire, message } = await pullFor(job.cluster_name) // the runner gets the job as it was
    expect(message).toEqual(job)
    await ack(wire.lease_id)
    expect(await row(idOf(job))).toMatchObject({ status: 'replayed', replays: 1, replay_error: null })
    expect(await pendingGauge()).toBe(before - 1)
    const audit = await env.DB.prepare("SELECT actor, target, after FROM audit_log WHERE action = 'nodes.dead_letters.replay' ORDER BY id DESC LIMIT 1").first<{
      actor: string
      target: string
      after: string
    }>()
    expect(audit).toMatchObject({ actor: 'admin', target: 'node_ops_dead_letters' })
    expect(JSON.parse(audit!.after)).toMatchObject({ ids: [idOf(job)], replayed: 1 })

    const second = await replay({ ids: [idOf(job), 'job:terminate:nope:1'] })
    expect(await second.json()).toMatchObject({ replayed: 0, ids: [], already_replayed: [idOf(job)], not_found: ['job:terminate:nope:1'] })
    expect(sendBatch).toHaveBeenCalledTimes(1)
  })

  it('sends a job once when two replays race for it', async () => {
    const job = launchJob()
    await deliver([{ id: `dlq-${job.cluster_name}`, body: job }])
    const sendBatch = vi.spyOn(env.NODE_OPS, 'sendBatch')
    const reports = await Promise.all([replay({ ids: [idOf(job)] }), replay({ ids: [idOf(job)] })].map(async (r) => (await r).json<{ replayed: number }>()))
    expect(reports.map((r) => r.replayed).sort()).toEqual([0, 1])
    expect(sentJobs(sendBatch)).toEqual([job])
    await ack((await pullFor(job.cluster_name)).wire.lease_id)
  })

  it('leaves a malformed message pending with the reason, and never picks it without ids', async () => {
    const name = cluster()
    await deliver([{ id: `dlq-bad-${name}`, body: { op: 'launch', cluster_name: name } }])
    const sendBatch = vi.spyOn(env.NODE_OPS, 'sendBatch')
    const res = await replay({ ids: [`msg:dlq-bad-${name}`] })
    expect(await res.json()).toMatchObject({ replayed: 0, invalid: [{ id: `msg:dlq-bad-${name}`, error: expect.stringContaining('node_id') }] })
    expect(await row(`msg:dlq-bad-${name}`)).toMatchObject({ status: 'pending', replays: 0, replay_error: expect.stringContaining('node_id') })
    const all = await (await replay({})).json<{ ids: string[] }>()
    expect(all.ids).not.toContain(`msg:dlq-bad-${name}`)
    expect(sentJobs(sendBatch).some((j) => j.cluster_name === name)).toBe(false)
    for (const sent of sentJobs(sendBatch)) await ack((await pullFor(sent.cluster_name)).wire.lease_id)
  })

  it('answers 503 and keeps the rows pending when node-ops refuses them; the next replay sends them', async () => {
    const job = terminateJob()
    await deliver([{ id: `dlq-${job.cluster_name}`, body: job }])
    vi.spyOn(env.NODE_OPS, 'sendBatch').mockRejectedValueOnce(new Error('Queue send failed: overloaded'))
    const res = await replay({ ids: [idOf(job)] })
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ error: { code: 'queue_unavailable' } })
    expect(await row(idOf(job))).toMatchObject({ status: 'pending', replays: 0, replay_error: expect.stringContaining('overloaded') })
    expect(await (await replay({ ids: [idOf(job)] })).json()).toMatchObject({ replayed: 1 })
    await ack((await pullFor(job.cluster_name)).wire.lease_id)
  })
})

describe('POST /admin/nodes/dead-letters/discard', () => {
  it('closes a pending malformed row (audited, out of the pending gauge), and leaves replayed rows alone', async () => {
    const name = cluster()
    await deliver([{ id: `dlq-bad-${name}`, body: { op: 'terminate', cluster_name: name } }])
    const job = terminateJob()
    await deliver([{ id: `dlq-${job.cluster_name}`, body: job }])
    expect(await (await replay({ ids: [idOf(job)] })).json()).toMatchObject({ replayed: 1 })
    await ack((await pullFor(job.cluster_name)).wire.lease_id)
    const before = await pendingGauge()
    const res = await admin('/admin/nodes/dead-letters/discard', { method: 'POST', json: { ids: [`msg:dlq-bad-${name}`, idOf(job), 'msg:nope'] } })
    expect(await res.json()).toEqual({
      object: 'node_ops_dead_letter_discard',
      discarded: [`msg:dlq-bad-${name}`],
      not_pending: [idOf(job)],
      not_found: ['msg:nope'],
    })
    expect(await row(`msg:dlq-bad-${name}`)).toMatchObject({ status: 'discarded' })
    expect(await row(idOf(job))).toMatchObject({ status: 'replayed' })
    expect(await pendingGauge()).toBe(before - 1)
    const audit = await env.DB.prepare("SELECT after FROM audit_log WHERE action = 'nodes.dead_letters.discard' ORDER BY id DESC LIMIT 1").first<string>(
      'after',
    )
    expect(JSON.parse(audit ?? '{}')).toMatchObject({ discarded: [`msg:dlq-bad-${name}`] })
    expect(await (await replay({ ids: [`msg:dlq-bad-${name}`] })).json()).toMatchObject({ replayed: 0, discarded: [`msg:dlq-bad-${name}`], invalid: [] })
    expect(await (await admin('/admin/nodes/dead-letters/discard', { method: 'POST', json: {} })).json()).toMatchObject({ error: { param: 'ids' } })
  })
})

describe('D1 limits', () => {
  it('replays 150 dead letters with limit 100 in two calls, every statement within 100 bound parameters', async () => {
    const jobs = Array.from({ length: 150 }, () => terminateJob())
    for (let i = 0; i < jobs.length; i += 100) {
      expect((await deliver(jobs.slice(i, i + 100).map((body) => ({ id: `dlq-${body.cluster_name}`, body })))).ackAll).toBe(true)
    }
    const mine = new Set(jobs.map(idOf))
    // Each prepared statement's `?` placeholders are its bound parameters (drizzle binds every value).
    const params: number[] = []
    let queries = 0
    const DB = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === 'prepare')
          return (q: string) => {
            params.push((q.match(/\?/g) ?? []).length)
            queries++
            return target.prepare(q)
          }
        const value: unknown = Reflect.get(target, prop)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const sent: NodeOpMessage[] = []
    const NODE_OPS = {
      sendBatch: async (messages: { body: NodeOpMessage }[]) => {
        sent.push(...messages.map((m) => m.body))
      },
    } as unknown as Queue
    const spyEnv = { ...env, DB, NODE_OPS }
    const by = { actor: 'admin', requestId: 'req-limits' }
    const pendingBefore = await env.DB.prepare(
      "SELECT count(*) AS n FROM node_ops_dead_letters WHERE status = 'pending' AND reason = 'retries_exhausted'",
    ).first<number>('n')
    const first = await replayNodeOpDeadLetters(spyEnv, { limit: 100 }, by)
    expect(first.replayed).toBe(100)
    const second = await replayNodeOpDeadLetters(spyEnv, { limit: 100 }, by)
    expect(first.replayed + second.replayed).toBe(pendingBefore)
    expect(sent.filter((j) => mine.has(idOf(j)))).toHaveLength(150)
    expect(new Set(sent.map(idOf)).size).toBe(sent.length)
    expect((await replayNodeOpDeadLetters(spyEnv, { limit: 100 }, by)).replayed).toBe(0)
    expect(Math.max(...params)).toBeLessThanOrEqual(100)
    expect(Math.max(...params)).toBeGreaterThan(50) // the id lists were really chunked, not tiny
    expect(queries).toBeLessThan(1000)
    const left = await env.DB.prepare("SELECT count(*) AS n FROM node_ops_dead_letters WHERE status = 'pending' AND id LIKE 'job:%'").first<number>('n')
    expect(left).toBe(0)
  })
})
