// Request bodies are bounded on every route that reads one: a 200 MB chunked body (no Content-Length) is refused
// with 413, or with 401/400 when the credentials are missing or malformed, and the reader stops near the cap.
// What is measured is how many bytes the body's stream was asked for (its pulls are counted), not workerd's
// memory: a stream that is never pulled past the cap cannot have been buffered past it.
import { describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, call, seedTenant } from '../helpers/gateway.ts'
import { RUNNER_TOKEN } from '../helpers/node-ops.ts'
import { deliver, nowSeconds, paymentIntentEvent, seedCustomerTenant } from '../helpers/stripe-events.ts'

const MB = 1024 * 1024
const MAX_BODY_BYTES = 4 * MB // the Worker's default MAX_BODY_BYTES (tests do not override it)
const WEBHOOK_MAX_BYTES = 512 * 1024
/**
 * Slack for what is pulled beyond what the reader consumed: the chunk that crosses the cap, and what the runtime
 * pumps ahead between the sender's stream and the Worker (measured: one 64 KiB chunk in both cases).
 */
const READ_AHEAD = 512 * 1024

/** A lazily generated body of `totalBytes` spaces (JSON whitespace) with no length: each pull makes one chunk. */
function hugeChunkedBody(totalBytes = 200 * MB, chunkBytes = 64 * 1024) {
  let pulledBytes = 0
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pulledBytes >= totalBytes) return controller.close()
        pulledBytes += chunkBytes
        controller.enqueue(new Uint8Array(chunkBytes).fill(0x20))
      },
    },
    { highWaterMark: 0 },
  )
  return { stream, pulledBytes: () => pulledBytes }
}

const hex64 = () => Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, '0')).join('')
const wellFormedRegisterToken = () => `cicreg_${'A'.repeat(43)}`

type Case = { name: string; path: string; headers: () => Record<string, string> | Promise<Record<string, string>>; status: number; code: string; cap: number }

const CASES: Case[] = [
  {
    name: 'inference with a valid key',
    path: '/v1/chat/completions',
    headers: async () => ({ authorization: `Bearer ${(await seedTenant()).key}` }),
    status: 413,
    code: 'request_too_large',
    cap: MAX_BODY_BYTES,
  },
  { name: 'inference without a key', path: '/v1/chat/completions', headers: () => ({}), status: 401, code: 'missing_api_key', cap: 0 },
  {
    name: 'admin with the token',
    path: '/admin/tenants',
    headers: () => ({ authorization: `Bearer ${ADMIN_TOKEN}` }),
    status: 413,
    code: 'request_too_large',
    cap: MAX_BODY_BYTES,
  },
  {
    name: 'admin with a malformed token',
    path: '/admin/tenants',
    headers: () => ({ authorization: 'Basic abc' }),
    status: 401,
    code: 'invalid_admin_token',
    cap: 0,
  },
  {
    name: 'runner with the token',
    path: '/runner/nodes/cic-bounded-1/status',
    headers: () => ({ authorization: `Bearer ${RUNNER_TOKEN}` }),
    status: 413,
    code: 'request_too_large',
    cap: MAX_BODY_BYTES,
  },
  { name: 'runner without a token', path: '/runner/nodes/cic-bounded-1/status', headers: () => ({}), status: 401, code: 'invalid_runner_token', cap: 0 },
  {
    name: 'registration with a well-formed token',
    path: '/nodes/register',
    headers: () => ({ authorization: `Bearer ${wellFormedRegisterToken()}` }),
    status: 413,
    code: 'request_too_large',
    cap: MAX_BODY_BYTES,
  },
  {
    name: 'registration with a malformed token',
    path: '/nodes/register',
    headers: () => ({ authorization: 'Bearer not-a-token' }),
    status: 401,
    code: 'invalid_registration_token',
    cap: 0,
  },
  { name: 'registration without a token', path: '/nodes/register', headers: () => ({}), status: 401, code: 'invalid_registration_token', cap: 0 },
  {
    name: 'local queue with the token',
    path: '/local-queues/client/v4/accounts/a/queues/node-ops/messages/pull',
    headers: () => ({ authorization: `Bearer ${RUNNER_TOKEN}` }),
    status: 413,
    code: 'request_too_large',
    cap: MAX_BODY_BYTES,
  },
  {
    name: 'local queue without a token',
    path: '/local-queues/client/v4/accounts/a/queues/node-ops/messages/pull',
    headers: () => ({}),
    status: 401,
    code: 'cloudflare:10000',
    cap: 0,
  },
  {
    name: 'Stripe webhook with a fresh, well-formed signature',
    path: '/api/webhooks/stripe',
    headers: () => ({ 'stripe-signature': `t=${nowSeconds()},v1=${hex64()}` }),
    status: 413,
    code: 'request_too_large',
    cap: WEBHOOK_MAX_BYTES,
  },
  { name: 'Stripe webhook without a signature', path: '/api/webhooks/stripe', headers: () => ({}), status: 400, code: 'missing_signature', cap: 0 },
  {
    name: 'Stripe webhook with a malformed signature',
    path: '/api/webhooks/stripe',
    headers: () => ({ 'stripe-signature': `t=${nowSeconds()},v1=zz` }),
    status: 400,
    code: 'invalid_signature',
    cap: 0,
  },
  {
    name: 'Stripe webhook with a stale signature',
    path: '/api/webhooks/stripe',
    headers: () => ({ 'stripe-signature': `t=${nowSeconds() - 301},v1=${hex64()}` }),
    status: 400,
    code: 'invalid_signature',
    cap: 0,
  },
  {
    name: 'Stripe webhook with a signature from the future',
    path: '/api/webhooks/stripe',
    headers: () => ({ 'stripe-signature': `t=${nowSeconds() + 301},v1=${hex64()}` }),
    status: 400,
    code: 'invalid_signature',
    cap: 0,
  },
]

describe('a 200 MB chunked request body', () => {
  it.each(CASES)('is refused on $name ($status) and read no further than the cap', async ({ path, headers, status, code, cap }) => {
    const body = hugeChunkedBody()
    const res = await call(path, { method: 'POST', body: body.stream, headers: await headers() })
    expect(res.status).toBe(status)
    expect(res.headers.get('x-request-id')).toMatch(/^req_/)
    // The local queue shim speaks Cloudflare's API, so its 401 is Cloudflare's envelope.
    const expected = code.startsWith('cloudflare:') ? { success: false, errors: [{ code: Number(code.slice(11)) }] } : { error: { code } }
    expect(await res.json()).toMatchObject(expected)
    expect(body.pulledBytes()).toBeLessThanOrEqual(cap + READ_AHEAD)
  })
})

describe('a normal body', () => {
  it('still works chunked (no Content-Length) below the cap', async () => {
    const json = new TextEncoder().encode(JSON.stringify({ name: `t-${crypto.randomUUID()}` }))
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(json.slice(0, 5))
        c.enqueue(json.slice(5))
        c.close()
      },
    })
    const res = await call('/admin/tenants', { method: 'POST', body: stream, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(res.status).toBe(201)
  })

  it('is refused at exactly one byte over the cap, accepted at the cap (whitespace-padded JSON)', async () => {
    const json = JSON.stringify({ name: `t-${crypto.randomUUID()}` })
    const atCap = json + ' '.repeat(MAX_BODY_BYTES - json.length)
    const ok = await call('/admin/tenants', { method: 'POST', body: atCap, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(ok.status).toBe(201)
    const over = await call('/admin/tenants', { method: 'POST', body: `${atCap} `, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(over.status).toBe(413)
  })

  it('still delivers a signed Stripe event', async () => {
    const { customer } = await seedCustomerTenant()
    expect((await deliver(paymentIntentEvent('succeeded', customer))).status).toBe(200)
  })
})
