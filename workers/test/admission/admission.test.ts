// Admission through the whole gateway: exact limits under concurrent bursts, OpenAI's 429s and headers,
// refunds, and a settle for every admitted request whatever happens to it.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import OpenAI from 'openai'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import worker from '../../src/index.ts'
import { promptBoundOf } from '../../src/services/admission/estimate-reservation.ts'
import { admin, api, registerNode, seedTenant } from '../helpers/gateway.ts'

const messages = [{ role: 'user', content: 'hello there world' }]
const promptEstimate = Math.ceil(JSON.stringify(messages).length / 4)
const chat = (extra: Record<string, unknown> = {}) => ({ model: 'cic-demo-llm', messages, max_tokens: 2, ...extra })
const post = (key: string, json: unknown, path = '/v1/chat/completions') => api(key, path, { method: 'POST', json })

type Inspect = { requestsInWindow: number; tokensInWindow: number; inFlight: number; budget: { committed: number; reserved: number } }
const admission = async (tenantId: string) => (await (await admin(`/admin/tenants/${tenantId}/admission`)).json()) as Inspect

/** Runs one request to the end, waitUntil work included (the settle), so the next assertion sees its effect. */
async function complete(key: string, json: unknown, init: { signal?: AbortSignal; path?: string; read?: (res: Response) => Promise<unknown> } = {}) {
  const ctx = createExecutionContext()
  const req = new Request(`http://gateway.test${init.path ?? '/v1/chat/completions'}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(json),
    signal: init.signal,
  })
  const res = await worker.fetch(req, env, ctx)
  const body = await (init.read ?? ((r: Response) => r.text()))(res)
  await waitOnExecutionContext(ctx)
  return { res, body }
}

beforeAll(async () => {
  const s = inject('standins')
  await registerNode(s.healthy, ['cic-demo-llm', 'cic-demo-embed'])
  // Breakers that never open: these files count admissions of requests that must reach the failing nodes.
  const neverOpens = { breaker: { failure_threshold: 1000 } }
  await registerNode(s.failing, ['failing-llm'], neverOpens)
  await registerNode(s.hanging, ['hanging-llm'], neverOpens)
  await registerNode(s.slow, ['slow-llm'])
  await registerNode('http://127.0.0.1:1', ['unreachable-llm'])
})

describe('exact limits under concurrent bursts', () => {
  it("admits exactly N of 5N concurrent requests and answers the rest with OpenAI's 429", async () => {
    const { key } = await seedTenant({ rpm: 10 })
    const responses = await Promise.all(Array.from({ length: 50 }, () => post(key, chat())))
    const ok = responses.filter((r) => r.status === 200)
    const refused = responses.filter((r) => r.status === 429)
    expect([ok.length, refused.length]).toEqual([10, 40])
    expect(ok.map((r) => r.headers.get('x-ratelimit-remaining-requests')).sort()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
    const first = refused[0]!
    expect(await first.json()).toMatchObject({
      error: {
        type: 'rate_limit_error',
        code: 'rate_limit_exceeded',
        message: expect.stringMatching(/^Rate limit reached for requests per minute \(RPM\): Limit 10, Used 10/),
      },
    })
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThanOrEqual(59)
    expect(Number(first.headers.get('retry-after'))).toBeLessThanOrEqual(60)
    expect(Number(first.headers.get('retry-after-ms'))).toBeGreaterThan(58_000)
    expect(first.headers.get('x-should-retry')).toBeNull()
    expect(first.headers.get('x-request-id')).toMatch(/^req_/)
    expect(Object.fromEntries([...first.headers].filter(([name]) => name.startsWith('x-ratelimit-') && name.endsWith('-requests')))).toMatchObject({
      'x-ratelimit-limit-requests': '10',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': expect.stringMatching(/^(\d+(\.\d+)?s|1m0s)$/),
    })
    await Promise.all(ok.map((r) => r.text()))
  })

  it('holds concurrency to exactly N, refusing the rest at once with a 1 s retry', async () => {
    const { key, tenantId } = await seedTenant({ concurrency: 3 })
    const responses = await Promise.all(Array.from({ length: 15 }, () => post(key, chat({ model: 'hanging-llm' }))))
    expect(responses.filter((r) => r.status === 504)).toHaveLength(3) // admitted, then the node never answered
    const refused = responses.filter((r) => r.status === 429)
    expect(refused).toHaveLength(12)
    expect(refused[0]!.headers.get('retry-after')).toBe('1')
    expect(await refused[0]!.json()).toMatchObject({ error: { code: 'concurrency_limit_exceeded' } })
    await expect.poll(async () => (await admission(tenantId)).inFlight).toBe(0) // the 504s settled off the response path
  })

  it('never admits more reserved tokens than the tpm in a burst', async () => {
    const reservation = promptEstimate + 2 // the prompt estimate plus max_tokens
    const { key } = await seedTenant({ tpm: 10 * reservation + reservation - 1 })
    // The node never answers, so no request settles (and refunds) while the burst is being admitted.
    const responses = await Promise.all(Array.from({ length: 50 }, () => post(key, chat({ model: 'hanging-llm' }))))
    expect(responses.filter((r) => r.status === 504)).toHaveLength(10)
    const refused = responses.filter((r) => r.status === 429)
    expect(refused).toHaveLength(40)
    expect(await refused[0]!.json()).toMatchObject({ error: { message: expect.stringMatching(/^Rate limit reached for tokens per minute \(TPM\)/) } })
  })

  it("counts a key's own rpm, set when the key was created", async () => {
    const { tenantId } = await seedTenant()
    const created = (await (await admin(`/admin/tenants/${tenantId}/keys`, { method: 'POST', json: { limits: { rpm: 2 } } })).json()) as { key: string }
    const statuses = await Promise.all(Array.from({ length: 6 }, () => api(created.key, '/v1/models').then((r) => r.status)))
    expect(statuses.sort()).toEqual([200, 200, 429, 429, 429, 429])
    const res = await api(created.key, '/v1/models')
    expect(await res.json()).toMatchObject({ error: { message: expect.stringContaining('on this API key') } })
  })
})

describe('the openai SDK', () => {
  it('gets through on its own retries once a slot frees, waiting as Retry-After says', async () => {
    const { key } = await seedTenant({ concurrency: 1 })
    const holder = await post(key, chat({ model: 'slow-llm', stream: true, max_tokens: 16 })) // holds the slot ~0.8 s
    const drained = holder.text()
    const statuses: number[] = []
    const client = new OpenAI({
      apiKey: key,
      baseURL: 'http://gateway.test/v1',
      maxRetries: 5,
      fetch: async (url, init) => {
        const res = await exports.default.fetch(new Request(url, init))
        statuses.push(res.status)
        return res
      },
    })
    const completion = await client.chat.completions.create({ model: 'cic-demo-llm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })
    await drained
    expect(completion.choices[0]?.message.role).toBe('assistant')
    expect(statuses[0]).toBe(429)
    expect(statuses.at(-1)).toBe(200)
  })
})

describe('rate-limit headers and token reservations', () => {
  it('sends x-ratelimit-* on admitted responses, tokens reserved as prompt estimate plus max_tokens', async () => {
    const { key } = await seedTenant({ rpm: 100, tpm: 10_000 })
    const res = await post(key, chat({ max_tokens: 50 }))
    expect(res.status).toBe(200)
    expect(Object.fromEntries([...res.headers].filter(([name]) => name.startsWith('x-ratelimit-')))).toEqual({
      'x-ratelimit-limit-requests': '100',
      'x-ratelimit-remaining-requests': '99',
      'x-ratelimit-reset-requests': '1m0s',
      'x-ratelimit-limit-tokens': '10000',
      'x-ratelimit-remaining-tokens': String(10_000 - promptEstimate - 50),
      'x-ratelimit-reset-tokens': '1m0s',
    })
  })

  it('gives back at once what a request reserved but did not use', async () => {
    const { key, tenantId } = await seedTenant({ tpm: 5000 })
    const { res, body } = await complete(key, chat({ max_tokens: 4000 }))
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe(String(5000 - promptEstimate - 4000))
    const usage = (JSON.parse(String(body)) as { usage: { total_tokens: number } }).usage
    expect(usage.total_tokens).toBeLessThan(100)
    expect(await admission(tenantId)).toMatchObject({ tokensInWindow: usage.total_tokens, inFlight: 0 })
    const next = await post(key, chat({ max_tokens: 4000 })) // fits only because the first one's reservation came back
    expect(next.status).toBe(200)
    expect(next.headers.get('x-ratelimit-remaining-tokens')).toBe(String(5000 - usage.total_tokens - promptEstimate - 4000))
  })

  it('refuses a request that can never fit the tpm, and tells the SDK not to retry', async () => {
    const { key } = await seedTenant({ tpm: 1000 })
    const res = await post(key, chat({ max_tokens: 2000 }))
    expect(res.status).toBe(429)
    expect(res.headers.get('x-should-retry')).toBe('false')
    expect(await res.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'request_too_large' } })
  })

  it('refuses with insufficient_quota, not to be retried, once the monthly token budget is spent', async () => {
    // A budget holds the prompt's provable bound (one token per byte plus the template allowance), not the estimate.
    const bound = promptBoundOf(chat(), 131_072)
    const { key, tenantId } = await seedTenant({ budget_tokens: bound + 120 })
    let last = await complete(key, chat({ max_tokens: 5 }))
    for (let i = 0; i < 30 && last.res.status === 200; i++) last = await complete(key, chat({ max_tokens: 5 }))
    expect(last.res.status).toBe(429)
    expect(last.res.headers.get('x-should-retry')).toBe('false')
    expect(JSON.parse(String(last.body))).toMatchObject({ error: { type: 'insufficient_quota', code: 'insufficient_quota' } })
    const { budget } = await admission(tenantId)
    expect(budget.reserved).toBe(0)
    expect(budget.committed).toBeGreaterThan(115) // refused once what is left (bound + 120 - committed) cannot hold bound + 5
    expect(budget.committed).toBeLessThanOrEqual(bound + 120)
  })
})

describe('settle happens exactly once on every path', () => {
  const cases: [string, Record<string, unknown>, number][] = [
    ['the node answers', chat(), 200],
    ['the node streams', chat({ stream: true }), 200],
    ['the node fails with a 500', chat({ model: 'failing-llm' }), 502],
    ['the node never answers', chat({ model: 'hanging-llm' }), 504],
    ['the node cannot be reached (never healthy, so not routable)', chat({ model: 'unreachable-llm' }), 503],
    ['no node serves the model', chat({ model: 'no-such-llm' }), 404],
    ['embeddings', { model: 'cic-demo-embed', input: 'abc' }, 200],
  ]
  it.each(cases)('frees the slot and charges only real usage when %s', async (_, json, status) => {
    const { key, tenantId } = await seedTenant({ concurrency: 1, tpm: 100_000 })
    for (let i = 0; i < 2; i++) {
      // with one slot, the second request is admitted only if the first settled
      const { res } = await complete(key, json, { path: 'input' in json ? '/v1/embeddings' : '/v1/chat/completions' })
      expect(res.status).toBe(status)
    }
    const state = await admission(tenantId)
    expect(state.inFlight).toBe(0)
    expect(state.requestsInWindow).toBe(2)
    // No free prefill: a node still working at the request timeout had the prompt (504), a node's 5xx did not.
    if (status === 504) expect(state.tokensInWindow).toBe(2 * promptEstimate)
    else if (status !== 200) expect(state.tokensInWindow).toBe(0)
    else expect(state.tokensInWindow).toBeLessThan(2 * (promptEstimate + 30))
  })

  it('settles a stream the client walks away from with the tokens generated so far', async () => {
    const json = chat({ model: 'slow-llm', stream: true, max_tokens: 16 })
    const whole = await seedTenant({ concurrency: 1 })
    await complete(whole.key, json)
    const wholeTokens = (await admission(whole.tenantId)).tokensInWindow
    const { key, tenantId } = await seedTenant({ concurrency: 1 })
    const abort = new AbortController()
    const { res } = await complete(key, json, {
      signal: abort.signal,
      read: async (r) => {
        const reader = r.body!.getReader()
        await reader.read() // the first event, then the client goes away
        abort.abort()
        await reader.cancel().catch(() => {})
      },
    })
    expect(res.status).toBe(200)
    const state = await admission(tenantId)
    expect(state.inFlight).toBe(0)
    expect(state.tokensInWindow).toBeGreaterThan(0)
    expect(state.tokensInWindow).toBeLessThan(wholeTokens)
  })
})

describe('revocation, suspension and limit changes are never cached', () => {
  it('refuses every one of a burst right after revoking a warm key', async () => {
    const { key, keyId } = await seedTenant()
    for (let i = 0; i < 3; i++) expect((await post(key, chat())).status).toBe(200) // the key lookup is now cached
    await admin(`/admin/keys/${keyId}`, { method: 'DELETE' })
    const statuses = await Promise.all(Array.from({ length: 20 }, () => post(key, chat()).then((r) => r.status)))
    expect(new Set(statuses)).toEqual(new Set([401]))
  })

  it('refuses a suspended tenant with 403 saying why, on the very next request', async () => {
    const { key, tenantId } = await seedTenant()
    expect((await post(key, chat())).status).toBe(200)
    await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { status: 'suspended', status_reason: 'payment failed' } })
    const statuses = await Promise.all(Array.from({ length: 10 }, () => post(key, chat()).then((r) => r.status)))
    expect(new Set(statuses)).toEqual(new Set([403]))
  })

  it("applies a new limit on the next request, and null brings the plan's value back", async () => {
    const { key, tenantId } = await seedTenant()
    expect((await post(key, chat())).status).toBe(200)
    await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { limits: { rpm: 1 } } })
    expect((await post(key, chat())).status).toBe(429)
    const res = await admin(`/admin/tenants/${tenantId}`, { method: 'PATCH', json: { limits: { rpm: null } } })
    expect(((await res.json()) as { limits: Record<string, number> }).limits).toEqual({})
    expect((await post(key, chat())).status).toBe(200)
  })
})
