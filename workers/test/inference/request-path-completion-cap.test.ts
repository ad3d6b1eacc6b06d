// The completion allowance admission reserved is enforced at the node: a request without max_tokens (or asking
// for more than was reserved) reaches the stand-in with max_tokens set to what the lease holds, so the node
// stops there and settle never charges more than the reservation.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import worker from '../../src/index.ts'
import { admin, registerNode, seedTenant } from '../helpers/gateway.ts'
import { readSse } from '../helpers/sse.ts'
import { standin } from '../helpers/standin.ts'
import { promptBoundOf } from '../../src/services/admission/estimate-reservation.ts'

const messages = [{ role: 'user', content: 'one two three four five six seven eight' }]
const promptEstimate = Math.ceil(JSON.stringify(messages).length / 4)
const healthy = () => standin(inject('standins').healthy)

type Inspect = { tokensInWindow: number; inFlight: number; budget: { committed: number; reserved: number } }
const admission = async (tenantId: string) => (await (await admin(`/admin/tenants/${tenantId}/admission`)).json()) as Inspect

/** Runs one request to the end, waitUntil work included (usage and settle). */
async function complete(key: string, requestId: string, json: Record<string, unknown>, path = '/v1/chat/completions') {
  const ctx = createExecutionContext()
  const res = await worker.fetch(
    new Request(`http://gateway.test${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify(json),
    }),
    env,
    ctx,
  )
  const text = await res.text()
  await waitOnExecutionContext(ctx)
  return { res, text }
}

/** The bodies the stand-in received for `requestId`, oldest first (its log keeps the last requests with their headers). */
async function received(requestId: string): Promise<Record<string, unknown>[]> {
  return (await healthy().stats()).recent
    .filter((r) => String(r.headers['x-request-id']).startsWith(`${requestId}/`))
    .map((r) => r.body as Record<string, unknown>)
}

async function forwarded(requestId: string): Promise<Record<string, unknown>> {
  const [hit] = await received(requestId)
  if (!hit) throw new Error(`the stand-in never received ${requestId}`)
  return hit
}

beforeAll(async () => {
  await registerNode(inject('standins').healthy, ['cic-demo-llm'])
})

describe('the reserved completion allowance is enforced at the node', () => {
  it('forwards max_tokens = the allowance admission shrank to fit the tpm, and settles within the reservation', async () => {
    const allowance = 5 // the stand-in's natural answer is 16 tokens: without the cap it would generate them all
    const { key, tenantId } = await seedTenant({ tpm: promptEstimate + allowance })
    const { res, text } = await complete(key, 'cap-chat-none-0001', { model: 'cic-demo-llm', messages })
    expect(res.status).toBe(200)
    expect(await forwarded('cap-chat-none-0001')).toMatchObject({ max_tokens: allowance })
    expect(await forwarded('cap-chat-none-0001')).not.toHaveProperty('max_completion_tokens')
    expect(JSON.parse(text)).toMatchObject({ choices: [{ finish_reason: 'length' }], usage: { completion_tokens: allowance } })
    const state = await admission(tenantId)
    expect(state.inFlight).toBe(0)
    expect(state.tokensInWindow).toBeLessThanOrEqual(promptEstimate + allowance)
  })

  it('caps a stream to what is left of the monthly budget', async () => {
    // A budget holds the prompt's provable bound (estimate-reservation.ts), not the estimate: 3 tokens are left after it.
    const bound = promptBoundOf({ model: 'cic-demo-llm', messages, stream: true }, 131_072)
    const { key, tenantId } = await seedTenant({ budget_tokens: bound + 3 })
    const ctx = createExecutionContext()
    const res = await worker.fetch(
      new Request('http://gateway.test/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': 'cap-sse-budget-001' },
        body: JSON.stringify({ model: 'cic-demo-llm', messages, stream: true }),
      }),
      env,
      ctx,
    )
    expect((await readSse(res)).at(-1)).toBe('[DONE]')
    await waitOnExecutionContext(ctx)
    expect(await forwarded('cap-sse-budget-001')).toMatchObject({ max_tokens: 3 })
    const { budget } = await admission(tenantId)
    expect(budget).toMatchObject({ reserved: 0 })
    expect(budget.committed).toBeLessThanOrEqual(bound + 3)
  })

  it("keeps the client's max_completion_tokens field and value when they fit the reservation", async () => {
    const { key } = await seedTenant()
    const { res } = await complete(key, 'cap-chat-mct-00001', { model: 'cic-demo-llm', messages, max_completion_tokens: 7 })
    expect(res.status).toBe(200)
    const body = await forwarded('cap-chat-mct-00001')
    expect(body).toMatchObject({ max_completion_tokens: 7 })
    expect(body).not.toHaveProperty('max_tokens')
  })

  it('sets max_tokens on a text completion that has none', async () => {
    const prompt = 'one two three four five six seven eight nine ten'
    const { key } = await seedTenant({ tpm: Math.ceil(prompt.length / 4) + 4 })
    const { res, text } = await complete(key, 'cap-text-none-0001', { model: 'cic-demo-llm', prompt }, '/v1/completions')
    expect(res.status).toBe(200)
    expect(await forwarded('cap-text-none-0001')).toMatchObject({ max_tokens: 4 })
    expect(JSON.parse(text)).toMatchObject({ usage: { completion_tokens: 4 } })
  })

  // The stand-in serves a context of 8192 tokens and counts one token per word, plus 3 per message.
  const longPrompt = [{ role: 'user', content: Array.from({ length: 5000 }, () => 'w').join(' ') }]

  it("fits the default allowance to the node's context when prompt plus allowance exceed it (as vLLM would have)", async () => {
    const { key } = await seedTenant()
    const { res } = await complete(key, 'cap-chat-long-0001', { model: 'cic-demo-llm', messages: longPrompt })
    expect(res.status).toBe(200)
    expect((await received('cap-chat-long-0001')).map((b) => b.max_tokens)).toEqual([4096, 8192 - 5003])
  })

  it("passes on the node's refusal of the client's own max_tokens, without a second try", async () => {
    const { key } = await seedTenant()
    const { res, text } = await complete(key, 'cap-chat-long-0002', { model: 'cic-demo-llm', messages: longPrompt, max_tokens: 4000 })
    expect(res.status).toBe(400)
    expect(JSON.parse(text)).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('maximum context length is 8192') } })
    expect(await received('cap-chat-long-0002')).toHaveLength(1)
  })
})
