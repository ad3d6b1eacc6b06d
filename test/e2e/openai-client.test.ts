// End to end: the real `openai` client against the dev stack (`npm run dev`'s code path: wrangler dev in
// workerd, local D1/DO/Queues, vLLM stand-ins over TCP).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startDevStack, type DevStack } from '../../scripts/dev-stack.ts'
import { startStandin, type Standin, type StandinOptions } from '../../scripts/vllm-standin/server.ts'
import { freePort } from './free-port.ts'

let stack: DevStack
let client: OpenAI
let persistTo: string
const extra: Standin[] = []

async function adminCall(method: string, route: string, body?: unknown) {
  const res = await fetch(stack.url + route, {
    method,
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  expect(res.ok, `${method} ${route}: ${res.status}`).toBe(true)
  // biome-ignore lint/suspicious/noExplicitAny: a test reads loose JSON by path; its assertions check the shapes
  return (await res.json()) as Record<string, any>
}

async function extraNode(model: string, knobs: StandinOptions['knobs']) {
  const standin = await startStandin({ models: [model], knobs })
  extra.push(standin)
  await adminCall('POST', '/admin/nodes', { endpoint: standin.url, models: [model] })
  return standin
}

beforeAll(async () => {
  persistTo = mkdtempSync(path.join(tmpdir(), 'cic-e2e-'))
  stack = await startDevStack({ port: await freePort(), standinPort: await freePort(), persistTo, quiet: true })
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: stack.demo.key, maxRetries: 0 })
})

afterAll(async () => {
  await Promise.all(extra.map((s) => s.close()))
  await stack?.close()
  rmSync(persistTo, { recursive: true, force: true })
})

describe('the openai client through the gateway', () => {
  it('gets a chat completion with usage', async () => {
    const res = await client.chat.completions.create({ model: 'cic-demo-llm', messages: [{ role: 'user', content: 'alpha beta' }], max_tokens: 4 })
    expect(res.choices[0]?.message.content).toBe('alpha beta alpha beta ')
    expect(res.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 })
  })

  it('streams a chat completion and gets usage when it asks', async () => {
    const stream = await client.chat.completions.create({
      model: 'cic-demo-llm',
      messages: [{ role: 'user', content: 'alpha beta' }],
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let usage: OpenAI.CompletionUsage | undefined | null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      if (chunk.usage) usage = chunk.usage
    }
    expect(text).toBe('alpha beta alpha ')
    expect(usage).toMatchObject({ completion_tokens: 3 })
  })

  it('gets a text completion, embeddings and the model list', async () => {
    const completion = await client.completions.create({ model: 'cic-demo-llm', prompt: 'one two', max_tokens: 2 })
    expect(completion.choices[0]?.text).toBe('one two ')
    const embeddings = await client.embeddings.create({ model: 'cic-demo-embed', input: ['a', 'b c'] })
    expect(embeddings.data).toHaveLength(2)
    expect(embeddings.data[0]?.embedding.length).toBeGreaterThan(0)
    const models = await client.models.list()
    expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining(['cic-demo-llm', 'cic-demo-embed']))
  })
})

describe('each error reaches the SDK as the right class', () => {
  const ask = (c: OpenAI, model = 'cic-demo-llm') => c.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] })

  it('AuthenticationError for a bad key', async () => {
    const bad = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'sk-cic-wrong', maxRetries: 0 })
    await expect(ask(bad)).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
  })

  it('NotFoundError for an unknown model', async () => {
    await expect(ask(client, 'no-such-model')).rejects.toMatchObject({ status: 404, code: 'model_not_found' })
    await expect(ask(client, 'no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError)
  })

  it('BadRequestError naming the field', async () => {
    const err = await client.chat.completions.create({ model: 'cic-demo-llm', messages: [] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect(err).toMatchObject({ param: 'messages' })
  })

  it('APIError 413 for a body over the limit', async () => {
    const err = await client.chat.completions
      .create({ model: 'cic-demo-llm', messages: [{ role: 'user', content: 'x'.repeat(5_000_000) }] })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect(err).toMatchObject({ status: 413 })
  })

  it('InternalServerError (502) when the node fails', async () => {
    await extraNode('e2e-failing', { fail: 'http500' })
    await expect(ask(client, 'e2e-failing')).rejects.toMatchObject({ status: 502 })
    await expect(ask(client, 'e2e-failing')).rejects.toBeInstanceOf(OpenAI.InternalServerError)
  })

  it('RateLimitError (429, with retry-after) for a tenant over its requests per minute', async () => {
    const tenant = await adminCall('POST', '/admin/tenants', { name: `e2e-rpm-${Date.now()}`, limits: { rpm: 1 } })
    const { key } = await adminCall('POST', `/admin/tenants/${tenant.id}/keys`, {})
    const limited = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: key, maxRetries: 0 })
    await expect(ask(limited)).resolves.toBeTruthy()
    const err = await ask(limited).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(err).toMatchObject({ status: 429 })
    expect(Number((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after'))).toBeGreaterThan(0)
  })

  it("InternalServerError (503, retry-after) when the model's only node never became ready", async () => {
    const closedPort = await freePort() // nothing listens there: the node's health checks fail, it stays warming
    const node = await adminCall('POST', '/admin/nodes', { endpoint: `http://127.0.0.1:${closedPort}`, models: ['e2e-never-ready'] })
    expect(node.status).toBe('warming')
    const err = await ask(client, 'e2e-never-ready').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.InternalServerError)
    expect(err).toMatchObject({ status: 503, code: 'no_available_node' })
    expect((err as InstanceType<typeof OpenAI.InternalServerError>).headers.get('retry-after')).toBeTruthy()
  })

  it('AuthenticationError for a revoked key', async () => {
    const created = await adminCall('POST', `/admin/tenants/${stack.demo.tenantId}/keys`, { name: 'e2e-revoked' })
    const revokedClient = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: created.key, maxRetries: 0 })
    await expect(ask(revokedClient)).resolves.toBeTruthy()
    await adminCall('DELETE', `/admin/keys/${created.id}`)
    const err = await ask(revokedClient).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(err).toMatchObject({ status: 401, code: 'invalid_api_key' })
  })

  it('PermissionDeniedError for a suspended tenant, and back once reactivated', async () => {
    await adminCall('PATCH', `/admin/tenants/${stack.demo.tenantId}`, { status: 'suspended', status_reason: 'payment failed' })
    try {
      const err = await ask(client).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError)
      expect((err as Error).message).toContain('payment failed')
    } finally {
      await adminCall('PATCH', `/admin/tenants/${stack.demo.tenantId}`, { status: 'active' })
    }
    await expect(ask(client)).resolves.toBeTruthy()
  })
})

describe('streams that do not finish', () => {
  it('a stream the node breaks mid-way raises an APIError in the SDK instead of ending cleanly', async () => {
    await extraNode('e2e-resetting', { fail: 'reset', failAfterTokens: 3 })
    const stream = await client.chat.completions.create({ model: 'e2e-resetting', messages: [{ role: 'user', content: 'a b c d' }], stream: true })
    const seen: string[] = []
    const consume = async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '')
    }
    await expect(consume()).rejects.toBeInstanceOf(OpenAI.APIError)
    expect(seen.join('')).toBe('a b c ')
  })

  it("a client abort cancels the node's generation", async () => {
    const slow = await extraNode('e2e-slow', { tokensPerSecond: 20, answerTokens: 200 })
    const controller = new AbortController()
    const stream = await client.chat.completions.create(
      { model: 'e2e-slow', messages: [{ role: 'user', content: 'go' }], stream: true },
      { signal: controller.signal },
    )
    let chunks = 0
    try {
      for await (const _ of stream) if (++chunks === 3) controller.abort()
    } catch {
      /* the SDK may end an aborted stream quietly or throw; either way the client is gone */
    }
    expect(chunks).toBe(3)
    await vi.waitFor(() => expect(slow.stats.aborted).toBe(1), { timeout: 10_000, interval: 100 })
    expect(slow.stats.generationTokens).toBeLessThan(200)
  })
})
