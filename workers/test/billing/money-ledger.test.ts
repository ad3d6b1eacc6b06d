// Billing in money, end to end through the real gateway, stand-in nodes over TCP, the usage queue, D1 and the Stripe
// stand-in: a mixed run over models with different prices (streamed, not streamed, aborted, embeddings) costs the
// same, to the micro-dollar, in the rollup, GET /v1/usage (every grouping), GET /admin/usage,
// GET /admin/tenants/:id/usage and what Stripe received; the expected figure is recomputed here from the ledger's
// own rows. Also: a request the client left while the node had it is billed its prompt (no free prefill).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import worker from '../../src/index.ts'
import { estimateRequestPrompt } from '../../src/services/inference/count-tokens.ts'
import { pushMeterUsage } from '../../src/services/billing/meter-push.ts'
import { admin, api, registerNode } from '../helpers/gateway.ts'
import { expectCostInEveryView, expectedMicroUsd, json, micro, waitForUsageRows } from '../helpers/ledger-cost.ts'
import { seedPrice } from '../helpers/prices.ts'
import { readSse } from '../helpers/sse.ts'
import { seedCustomerTenant } from '../helpers/stripe-events.ts'

const HOUR = 3_600_000
const MINUTE = 60_000
const standin = inject('stripeStandin')
const stripeEnv = { ...env, STRIPE_API_BASE: standin }

/** Micro-dollars per million tokens. Odd values on purpose: most rows end in a fraction of a micro-dollar. */
const PRICES: Record<string, { input: number; output: number }> = {
  'cic-demo-llm': { input: 123_457, output: 987_653 }, // $0.123457/M, $0.987653/M
  'slow-llm': { input: 3_000_001, output: 15_000_007 },
  'cic-demo-embed': { input: 20_003, output: 0 },
}

type EventRow = {
  request_id: string
  key_id: string
  model: string
  created_at: number
  prompt_tokens: number
  completion_tokens: number
  outcome: string
  usage_source: string
}
const EVENT_COLUMNS = ['request_id', 'key_id', 'model', 'created_at', 'prompt_tokens', 'completion_tokens', 'outcome', 'usage_source'] as const

beforeAll(async () => {
  const s = inject('standins')
  await registerNode(s.healthy, ['cic-demo-llm', 'cic-demo-embed'])
  await registerNode(s.slow, ['slow-llm'])
  for (const [model, p] of Object.entries(PRICES)) await seedPrice(model, p.input, p.output)
})

async function sendMixedRun(key: string): Promise<number> {
  const chat = (model: string, extra: Record<string, unknown> = {}) => ({
    model,
    messages: [{ role: 'user', content: `price me ${crypto.randomUUID()}` }],
    max_tokens: 9,
    ...extra,
  })
  const post = (body: unknown, path = '/v1/chat/completions', signal?: AbortSignal) => api(key, path, { method: 'POST', json: body, signal })
  let sent = 0
  const plain = await Promise.all([
    ...Array.from({ length: 6 }, () => post(chat('cic-demo-llm'))),
    ...Array.from({ length: 3 }, () => post({ model: 'cic-demo-llm', prompt: 'complete this, please', max_tokens: 5 }, '/v1/completions')),
    ...Array.from({ length: 2 }, () => post(chat('slow-llm', { max_tokens: 4 }))),
    ...Array.from({ length: 4 }, (_, i) => post({ model: 'cic-demo-embed', input: ['embed me', `and me ${i}`] }, '/v1/embeddings')),
  ])
  for (const res of plain) {
    expect(res.status).toBe(200)
    await res.text()
    sent++
  }
  const streams = await Promise.all(Array.from({ length: 4 }, (_, i) => post(chat(i % 2 ? 'slow-llm' : 'cic-demo-llm', { stream: true, max_tokens: 6 }))))
  for (const res of streams) {
    expect(res.status).toBe(200)
    await readSse(res)
    sent++
  }
  // A stream cut by its client after its first event: billed what was generated.
  const cut = new AbortController()
  const cutRes = await post(chat('slow-llm', { stream: true, max_tokens: 40 }), '/v1/chat/completions', cut.signal)
  const reader = cutRes.body?.getReader()
  await reader?.read()
  cut.abort()
  await reader?.cancel().catch(() => {})
  sent++
  // A non-streamed request the client leaves while the node generates: billed its prompt.
  await abortWhileGenerating(key, chat('slow-llm', { max_tokens: 40 }))
  sent++
  return sent
}

/**
 * Sends a non-streamed request to the paced node and goes away while it generates (20 tokens/s: 2 s for 40).
 * Through the Worker's fetch with its own execution context, so the request's waitUntil work (the usage event)
 * is awaited like the runtime would keep it alive.
 */
async function abortWhileGenerating(key: string, body: unknown): Promise<void> {
  const abort = new AbortController()
  const ctx = createExecutionContext()
  const req = new Request('http://gateway.test/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: abort.signal,
  })
  const pending = worker.fetch(req, env, ctx)
  await new Promise((r) => setTimeout(r, 400))
  abort.abort()
  const res = await pending
  expect(res.status).toBe(499) // nobody reads it: the client is gone
  await waitOnExecutionContext(ctx)
}

describe('billing in money', () => {
  it('costs the same to the micro-dollar in the rollup, every usage view and what Stripe received', async () => {
    const { tenantId, customer, key } = await seedCustomerTenant()
    const sent = await sendMixedRun(key)
    const rows = await waitForUsageRows<EventRow>(tenantId, sent, EVENT_COLUMNS)
    expect(rows).toHaveLength(sent)
    expect(new Set(rows.map((r) => r.model))).toEqual(new Set(Object.keys(PRICES)))
    const expected = expectedMicroUsd(rows, (row) => PRICES[row.model ?? ''] ?? { input: 0, output: 0 })
    expect(expected).toBeGreaterThan(0)

    const rollup = await env.DB.prepare(
      `SELECT sum((prompt_cost_pico_usd + 500000) / 1000000 + (completion_cost_pico_usd + 500000) / 1000000) AS micro
       FROM usage_hourly WHERE tenant_id = ?`,
    )
      .bind(tenantId)
      .first<{ micro: number }>()
    expect(rollup?.micro).toBe(expected)

    await expectCostInEveryView(key, tenantId, expected)

    // The meter push: one event per closed tenant-hour, its value the hour's micro-dollars.
    const lastHour = Math.max(...rows.map((r) => r.created_at - (r.created_at % HOUR)))
    await pushMeterUsage(stripeEnv, lastHour + HOUR + 5 * MINUTE)
    const receipts = (
      await (
        await fetch(`${standin}/_standin/meter-events?customer=${customer}`)
      ).json<{
        data: { value: string; isAccepted: boolean; isRepeat: boolean; eventName: string }[]
      }>()
    ).data
    expect(receipts.every((r) => r.eventName === 'cic_cost_micro_usd')).toBe(true)
    expect(receipts.filter((r) => r.isAccepted && !r.isRepeat).reduce((n, r) => n + Number(r.value), 0)).toBe(expected)
  }, 30_000)

  it('bills a non-streamed request the client left while the node worked on it its prompt, and keeps its TPM charge', async () => {
    const { tenantId, key } = await seedCustomerTenant()
    const body = { model: 'slow-llm', messages: [{ role: 'user', content: 'a prompt the node prefilled before the client left' }], max_tokens: 40 }
    await abortWhileGenerating(key, body)
    const [row] = await waitForUsageRows<EventRow>(tenantId, 1, EVENT_COLUMNS)
    const prompt = estimateRequestPrompt(body)
    expect(prompt).toBeGreaterThan(0)
    expect(row).toMatchObject({ outcome: 'client_aborted', prompt_tokens: prompt, completion_tokens: 0, usage_source: 'gateway_count' })
    // The settle kept the prompt on the tenant's TPM window (not refunded to 0).
    let state = { tokensInWindow: -1, inFlight: -1 }
    for (let i = 0; i < 200 && !(state.inFlight === 0 && state.tokensInWindow === prompt); i++) {
      state = await json(await admin(`/admin/tenants/${tenantId}/admission`))
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(state).toMatchObject({ inFlight: 0, tokensInWindow: prompt })
    const report = await json<{ prompt_tokens: number; cost_usd: string }>(await admin(`/admin/tenants/${tenantId}/usage`))
    expect(report.prompt_tokens).toBe(prompt)
    expect(micro(report.cost_usd)).toBe(Math.round((prompt * (PRICES['slow-llm']?.input ?? 0)) / 1e6))
  }, 30_000)
})
