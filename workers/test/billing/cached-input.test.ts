// The cached-input price, end to end: a node reporting prefix-cached prompt tokens
// (usage.prompt_tokens_details.cached_tokens, the stand-in's reportedCachedTokens knob) over a model priced with
// cached_input costs the same, to the micro-dollar, in the rollup, GET /v1/usage (every grouping), GET /admin/usage,
// GET /admin/tenants/:id/usage and what the Stripe stand-in received; the expected figure is recomputed from the
// ledger's own rows, and differs from the figure with cached tokens at the input price (so the test fails if they
// are billed so). A node reporting more cached than prompt tokens is clamped to the prompt, by the gateway and
// again by the ledger write.
import { env } from 'cloudflare:workers'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { UsageEvent } from '../../src/schemas/usage-event.ts'
import { pushMeterUsage } from '../../src/services/billing/meter-push.ts'
import { writeLedger } from '../../src/services/usage/ledger-write.ts'
import { api, registerNode } from '../helpers/gateway.ts'
import { expectCostInEveryView, expectedMicroUsd, waitForUsageRows } from '../helpers/ledger-cost.ts'
import { seedPrice } from '../helpers/prices.ts'
import { standin } from '../helpers/standin.ts'
import { seedCustomerTenant } from '../helpers/stripe-events.ts'

const HOUR = 3_600_000
const MINUTE = 60_000
const stripeBase = inject('stripeStandin')
const stripeEnv = { ...env, STRIPE_API_BASE: stripeBase }
const node = standin(inject('pools').cachedInput[0] as string)
const MODEL = 'pool-1'
/** Micro-dollars per million tokens; odd on purpose, so rows end in fractions of a micro-dollar. */
const PRICE = { input: 3_000_001, output: 15_000_007, cachedInput: 300_007 }

type EventRow = {
  key_id: string
  created_at: number
  prompt_tokens: number
  cached_prompt_tokens: number
  completion_tokens: number
  usage_source: string
}
const EVENT_COLUMNS = ['key_id', 'created_at', 'prompt_tokens', 'cached_prompt_tokens', 'completion_tokens', 'usage_source'] as const

beforeAll(async () => {
  await registerNode(node.url, [MODEL])
  await seedPrice(MODEL, PRICE.input, PRICE.output, 0, PRICE.cachedInput)
})
afterAll(async () => {
  await node.reset()
})

describe('the cached-input price', () => {
  it('bills cached prompt tokens at cached_input, the same to the micro-dollar in the rollup, every usage view and Stripe', async () => {
    const { tenantId, customer, key } = await seedCustomerTenant()
    const chat = (extra: Record<string, unknown> = {}) =>
      api(key, '/v1/chat/completions', {
        method: 'POST',
        json: { model: MODEL, messages: [{ role: 'user', content: `a long shared system prompt, then ${crypto.randomUUID()}` }], max_tokens: 5, ...extra },
      })
    await node.setKnobs({ reportedCachedTokens: 3 })
    let sent = 0
    for (const extra of [{}, { stream: true }, {}, { stream: true, stream_options: { include_usage: true } }, {}]) {
      const res = await chat(extra)
      expect(res.status).toBe(200)
      await res.text()
      sent++
    }
    // A faulty node: more cached than prompt tokens. Billed as all cached, never below zero uncached.
    await node.setKnobs({ reportedCachedTokens: 1_000_000 })
    for (const extra of [{}, { stream: true }]) {
      const res = await chat(extra)
      expect(res.status).toBe(200)
      await res.text()
      sent++
    }
    await node.setKnobs({ reportedCachedTokens: null })

    const rows = await waitForUsageRows<EventRow>(tenantId, sent, EVENT_COLUMNS)
    expect(rows).toHaveLength(sent)
    expect(rows.every((r) => r.usage_source === 'node' && r.prompt_tokens > 3)).toBe(true)
    expect(rows.filter((r) => r.cached_prompt_tokens === 3)).toHaveLength(5)
    const clamped = rows.filter((r) => r.cached_prompt_tokens !== 3)
    expect(clamped).toHaveLength(2)
    for (const r of clamped) expect(r.cached_prompt_tokens).toBe(r.prompt_tokens)

    const expected = expectedMicroUsd(rows, () => PRICE)
    // The figure with cached tokens at the input price is another one: billing them so fails every check below.
    expect(expectedMicroUsd(rows, () => ({ input: PRICE.input, output: PRICE.output }))).toBeGreaterThan(expected)

    const rollup = await env.DB.prepare(
      `SELECT sum((prompt_cost_pico_usd + 500000) / 1000000 + (completion_cost_pico_usd + 500000) / 1000000) AS micro,
         sum(cached_prompt_tokens) AS cached, sum(cached_prompt_cost_pico_usd) AS cachedPico
       FROM usage_hourly WHERE tenant_id = ?`,
    )
      .bind(tenantId)
      .first<{ micro: number; cached: number; cachedPico: number }>()
    expect(rollup?.micro).toBe(expected)
    const cachedTokens = rows.reduce((n, r) => n + r.cached_prompt_tokens, 0)
    expect(rollup?.cached).toBe(cachedTokens)
    expect(rollup?.cachedPico).toBe(cachedTokens * PRICE.cachedInput)

    await expectCostInEveryView(key, tenantId, expected)

    const lastHour = Math.max(...rows.map((r) => r.created_at - (r.created_at % HOUR)))
    await pushMeterUsage(stripeEnv, lastHour + HOUR + 5 * MINUTE)
    const receipts = (
      await (
        await fetch(`${stripeBase}/_standin/meter-events?customer=${customer}`)
      ).json<{
        data: { value: string; isAccepted: boolean; isRepeat: boolean }[]
      }>()
    ).data
    expect(receipts.filter((r) => r.isAccepted && !r.isRepeat).reduce((n, r) => n + Number(r.value), 0)).toBe(expected)
  }, 30_000)

  it('clamps cached tokens to [0, prompt] in the ledger write itself, and counts absent ones as 0', async () => {
    const now = Date.now()
    const base = {
      tenantId: 't-clamp',
      keyId: 'k-clamp',
      model: MODEL,
      nodeId: 'n-clamp',
      endpoint: 'chat.completions',
      completionTokens: 2,
      outcome: 'completed',
      httpStatus: 200,
      usageSource: 'node',
      latencyMs: 1,
      ttftMs: null,
      createdAt: now,
    } satisfies Omit<UsageEvent, 'requestId' | 'promptTokens'>
    const events: UsageEvent[] = [
      { ...base, requestId: 'r-over', promptTokens: 10, cachedPromptTokens: 50 },
      { ...base, requestId: 'r-absent', promptTokens: 10 },
      { ...base, requestId: 'r-part', promptTokens: 10, cachedPromptTokens: 4 },
    ]
    await writeLedger(env.DB, events, { now })
    const { results } = await env.DB.prepare('SELECT request_id, cached_prompt_tokens AS c FROM usage_events WHERE tenant_id = ? ORDER BY request_id')
      .bind('t-clamp')
      .all<{ request_id: string; c: number }>()
    expect(results).toEqual([
      { request_id: 'r-absent', c: 0 },
      { request_id: 'r-over', c: 10 },
      { request_id: 'r-part', c: 4 },
    ])
    const row = await env.DB.prepare('SELECT prompt_tokens AS p, cached_prompt_tokens AS c, prompt_cost_pico_usd AS pico FROM usage_hourly WHERE tenant_id = ?')
      .bind('t-clamp')
      .first<{ p: number; c: number; pico: number }>()
    expect(row).toEqual({ p: 30, c: 14, pico: 16 * PRICE.input + 14 * PRICE.cachedInput })
  })
})
