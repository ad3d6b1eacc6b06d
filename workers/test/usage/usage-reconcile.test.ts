// GET /admin/usage/reconcile and recordNodeCounters: the ledger's tokens per node (usage_node_hourly) next to
// the node's own vLLM counters, over the whole hours the counter samples cover.
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import { createDb } from '../../src/db/client.ts'
import { NODE_COUNTER_RETENTION_MS, recordNodeCounters } from '../../src/db/node-counters.ts'
import { admin, call, registerNode } from '../helpers/gateway.ts'
import { BASE_HOUR, deliver, usageEvent } from '../helpers/usage.ts'

const db = createDb(env.DB)
const SEC = 1000
const MIN = 60_000
const HOUR = 60 * MIN
const T = BASE_HOUR
const node = () => `node-${crypto.randomUUID().slice(0, 8)}`

type NodeReport = {
  node_id: string
  node_name: string | null
  samples: number
  window: { from: number; to: number }
  ledger: { requests: number; prompt_tokens: number; completion_tokens: number }
  node: { prompt_tokens: number; generation_tokens: number; counter_resets: number } | null
  drift: { prompt_tokens: number; generation_tokens: number; generation_pct: number | null } | null
}
async function report(from: number, to: number): Promise<NodeReport[]> {
  const res = await admin(`/admin/usage/reconcile?from=${from}&to=${to}`)
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: NodeReport[] }).data
}
const sample = (nodeId: string, at: number, prompt: number, generation: number) =>
  recordNodeCounters(db, nodeId, { at, promptTokensTotal: prompt, generationTokensTotal: generation })
/** One ledger event on `nodeId` finishing at `at`. */
const served = (nodeId: string, i: number, at: number, prompt: number, completion: number) =>
  usageEvent(`t-${nodeId}`, i, { nodeId, createdAt: at, promptTokens: prompt, completionTokens: completion })

describe('usage reconciliation', () => {
  it('matches the ledger with the counters over the hours between the first and last sample', async () => {
    const n = node()
    await sample(n, T + 20 * SEC, 100, 1000) // nearest hour boundary: T
    await sample(n, T + HOUR + 10 * SEC, 150, 1200)
    await sample(n, T + 2 * HOUR - 15 * SEC, 170, 1300) // nearest: T + 2 h
    await deliver([
      served(n, 0, T - MIN, 99, 99), // the hour before the window: outside
      served(n, 1, T + 30 * MIN, 50, 200),
      served(n, 2, T + HOUR + 5 * MIN, 20, 100),
      served(n, 3, T + 2 * HOUR + MIN, 7, 7), // the hour after: outside
    ])
    const [row] = (await report(T, T + 3 * HOUR)).filter((r) => r.node_id === n)
    expect(row).toEqual({
      node_id: n,
      node_name: null,
      samples: 3,
      window: { from: T, to: T + 2 * HOUR },
      ledger: { requests: 2, prompt_tokens: 70, completion_tokens: 300 },
      node: { prompt_tokens: 70, generation_tokens: 300, counter_resets: 0 },
      drift: { prompt_tokens: 0, generation_tokens: 0, generation_pct: 0 },
    })
  })

  it('shows drift, and treats a counter drop as a node restart', async () => {
    const n = node()
    await sample(n, T, 500, 1000)
    await sample(n, T + 30 * MIN, 600, 1200) // +100, +200
    await sample(n, T + 60 * MIN, 40, 50) // restarted: +40, +50 since the restart
    await sample(n, T + 90 * MIN, 70, 80) // +30, +30; nearest hour boundary T + 2 h
    await deliver([served(n, 0, T + 20 * MIN, 100, 200), served(n, 1, T + 80 * MIN, 60, 150)])
    const [row] = (await report(T, T + 3 * HOUR)).filter((r) => r.node_id === n)
    expect(row?.node).toEqual({ prompt_tokens: 170, generation_tokens: 280, counter_resets: 1 })
    expect(row?.ledger).toEqual({ requests: 2, prompt_tokens: 160, completion_tokens: 350 })
    expect(row?.drift).toEqual({ prompt_tokens: -10, generation_tokens: 70, generation_pct: 25 })
  })

  it('only uses samples inside [from, to), and needs them to span an hour boundary', async () => {
    const n = node()
    for (let h = 0; h < 4; h++) await sample(n, T + h * HOUR, h * 10, h * 100)
    const [row] = (await report(T + HOUR, T + 3 * HOUR)).filter((r) => r.node_id === n)
    expect(row).toMatchObject({ samples: 2, node: { generation_tokens: 100 }, window: { from: T + HOUR, to: T + 2 * HOUR } })
    const [short] = (await report(T + HOUR, T + HOUR + 1)).filter((r) => r.node_id === n)
    expect(short).toMatchObject({ samples: 1, node: null })
  })

  it('lists registered nodes without samples with their ledger over [from, to) and no counter figures', async () => {
    const { id } = await registerNode('http://127.0.0.1:9/', ['recon-model'], { name: `recon-${crypto.randomUUID().slice(0, 6)}` })
    await sample(id, T + MIN, 1, 1) // a single sample gives no increase
    await deliver([served(id, 0, T + 30 * MIN, 5, 6), served(id, 1, T + 3 * HOUR, 5, 6)])
    const [row] = (await report(T, T + HOUR)).filter((r) => r.node_id === id)
    expect(row).toMatchObject({ samples: 1, window: { from: T, to: T + 60 * MIN }, ledger: { requests: 1, completion_tokens: 6 }, node: null, drift: null })
    expect(row?.node_name).toMatch(/^recon-/)
  })

  it('requires an ordered from and to, and the admin token', async () => {
    expect((await admin('/admin/usage/reconcile?from=5')).status).toBe(400)
    expect(await (await admin('/admin/usage/reconcile?from=5&to=5')).json()).toMatchObject({ error: { param: 'to' } })
    expect((await call('/admin/usage/reconcile?from=1&to=2')).status).toBe(401)
  })
})

describe('recordNodeCounters', () => {
  const count = async (n: string) =>
    (await env.DB.prepare('SELECT count(*) AS c FROM node_counter_samples WHERE node_id = ?').bind(n).first<{ c: number }>())?.c

  it('stores whole tokens once per (node, time) and rejects impossible figures', async () => {
    const n = node()
    await sample(n, T, 1234.0, 99.4)
    await sample(n, T, 1, 1) // the same scrape again: ignored
    const row = await env.DB.prepare('SELECT * FROM node_counter_samples WHERE node_id = ?').bind(n).first()
    expect(row).toEqual({ node_id: n, at: T, prompt_tokens_total: 1234, generation_tokens_total: 99 })
    await expect(sample(n, T + 1, -1, 0)).rejects.toThrow()
    await expect(sample(n, T + 2, 0, Number.NaN)).rejects.toThrow()
    expect(await count(n)).toBe(1)
  })

  it('drops samples older than the retention when a new one arrives', async () => {
    const n = node()
    await sample(n, T, 1, 1)
    await sample(n, T + MIN, 2, 2)
    await sample(n, T + NODE_COUNTER_RETENTION_MS + MIN / 2, 3, 3)
    expect(await count(n)).toBe(2)
  })
})

describe('node counter samples from the health monitor', () => {
  it("records the node's own counters when its monitor checks it (at registration)", async () => {
    const endpoint = inject('standins').healthy
    const stats = async () => (await (await fetch(`${endpoint}/_standin/stats`)).json()) as { promptTokens: number; generationTokens: number }
    await fetch(`${endpoint}/v1/chat/completions`, {
      // so its counters are not all zero
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cic-demo-llm', messages: [{ role: 'user', content: 'count me' }], max_tokens: 3 }),
    }).then((r) => r.text())
    const before = await stats()
    const registered = await registerNode(endpoint, ['cic-demo-llm'])
    const after = await stats()
    const row = await env.DB.prepare('SELECT prompt_tokens_total AS p, generation_tokens_total AS g FROM node_counter_samples WHERE node_id = ?')
      .bind(registered.id)
      .first<{ p: number; g: number }>()
    // Other test files may send this stand-in traffic meanwhile: the sample lies between the two readings.
    expect(row!.p).toBeGreaterThanOrEqual(before.promptTokens)
    expect(row!.p).toBeLessThanOrEqual(after.promptTokens)
    expect(row!.g).toBeGreaterThanOrEqual(before.generationTokens)
    expect(row!.g).toBeLessThanOrEqual(after.generationTokens)
    expect(after.promptTokens).toBeGreaterThan(0) // a real figure, not an empty default
  })
})
