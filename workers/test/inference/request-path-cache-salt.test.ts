// vLLM's prefix cache is shared by every request on a node: the gateway salts it per tenant. Drives the whole
// Worker against the healthy stand-in and reads the bodies it received: two tenants sending the same prompt
// reach the node with different cache_salts, one tenant twice with the same; the client's own cache_salt
// changes the salt but never reaches the node as sent; an openai_compatible node gets no cache_salt at all.
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import worker from '../../src/index.ts'
import { admin, registerNode, seedTenant } from '../helpers/gateway.ts'
import { standin } from '../helpers/standin.ts'

const healthy = () => standin(inject('standins').healthy)
const messages = [
  { role: 'system', content: 'a long shared system prompt' },
  { role: 'user', content: 'hello there' },
]

async function send(key: string, requestId: string, json: Record<string, unknown>, path = '/v1/chat/completions'): Promise<Response> {
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
  await res.text()
  await waitOnExecutionContext(ctx)
  return res
}

/** The body the stand-in received for `requestId` (its log keeps the last requests with their headers). */
async function received(requestId: string): Promise<Record<string, unknown>> {
  const hit = (await healthy().stats()).recent.find((r) => String(r.headers['x-request-id']).startsWith(`${requestId}/`))
  if (!hit) throw new Error(`the stand-in never received ${requestId}`)
  return hit.body as Record<string, unknown>
}

const chat = { model: 'cic-demo-llm', messages, max_tokens: 2 }
let vllmNodeId = ''

beforeAll(async () => {
  vllmNodeId = (await registerNode(inject('standins').healthy, ['cic-demo-llm', 'cic-demo-embed'])).id // engine defaults to vllm
})

describe('a vLLM node gets a per-tenant cache_salt', () => {
  it('gives two tenants sending the same prompt different salts, and one tenant the same salt twice', async () => {
    const a = await seedTenant()
    const b = await seedTenant()
    expect((await send(a.key, 'salt-a-0001', chat)).status).toBe(200)
    expect((await send(a.key, 'salt-a-0002', chat)).status).toBe(200)
    expect((await send(b.key, 'salt-b-0001', chat)).status).toBe(200)
    const [a1, a2, b1] = [await received('salt-a-0001'), await received('salt-a-0002'), await received('salt-b-0001')]
    expect(a1.cache_salt).toMatch(/^[A-Za-z0-9_-]{43}$/) // base64url of 32 bytes
    expect(a2.cache_salt).toBe(a1.cache_salt)
    expect(b1.cache_salt).not.toBe(a1.cache_salt)
  })

  it("folds the client's cache_salt in: a different salt per client salt, the raw value never forwarded", async () => {
    const t = await seedTenant()
    await send(t.key, 'salt-c-none', chat)
    await send(t.key, 'salt-c-user1', { ...chat, cache_salt: 'user-1-secret' })
    await send(t.key, 'salt-c-user1b', { ...chat, cache_salt: 'user-1-secret' })
    await send(t.key, 'salt-c-user2', { ...chat, cache_salt: 'user-2-secret' })
    const [none, u1, u1b, u2] = [await received('salt-c-none'), await received('salt-c-user1'), await received('salt-c-user1b'), await received('salt-c-user2')]
    expect(u1.cache_salt).toBe(u1b.cache_salt)
    expect(new Set([none.cache_salt, u1.cache_salt, u2.cache_salt]).size).toBe(3)
    for (const body of [u1, u2]) expect(JSON.stringify(body)).not.toContain('-secret')
  })

  it('salts text completions too, and sends embeddings none (the client value dropped)', async () => {
    const t = await seedTenant()
    expect(
      (await send(t.key, 'salt-text-0001', { model: 'cic-demo-llm', prompt: 'one two three', max_tokens: 2, cache_salt: 'mine' }, '/v1/completions')).status,
    ).toBe(200)
    expect((await received('salt-text-0001')).cache_salt).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect((await send(t.key, 'salt-embed-0001', { model: 'cic-demo-embed', input: 'one two', cache_salt: 'mine' }, '/v1/embeddings')).status).toBe(200)
    expect(await received('salt-embed-0001')).not.toHaveProperty('cache_salt')
  })

  it('refuses a cache_salt that is not a non-empty string of at most 1024 characters', async () => {
    const t = await seedTenant()
    for (const bad of [42, '', 'x'.repeat(1025)]) {
      const res = await send(t.key, `salt-bad-${String(bad).length}`, { ...chat, cache_salt: bad })
      expect(res.status).toBe(400)
    }
  })
})

describe('a node that is not vLLM', () => {
  it('receives no cache_salt, not even the client one', async () => {
    // The only route to the model is now the openai_compatible node (same stand-in, registered again).
    expect((await admin(`/admin/nodes/${vllmNodeId}/drain`, { method: 'POST' })).status).toBe(200)
    const other = await registerNode(inject('standins').healthy, ['cic-demo-llm'], { engine: 'openai_compatible' })
    expect(await (await admin(`/admin/nodes/${other.id}`)).json()).toMatchObject({ engine: 'openai_compatible' })
    const t = await seedTenant()
    expect((await send(t.key, 'salt-byo-0001', { ...chat, cache_salt: 'user-1-secret' })).status).toBe(200)
    const body = await received('salt-byo-0001')
    expect(body).not.toHaveProperty('cache_salt')
    expect(body.messages).toEqual(messages)
  })
})
