// The pull client against a local HTTP server that speaks Cloudflare's documented pull/ack shapes
// (platform-facts §1.1): paths, bearer token, request bodies, base64 JSON bodies, lease ids, retries.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createPullClient, QueueApiError } from './pull-client.ts'

type Seen = { method: string; url: string; authorization: string | undefined; contentType: string | undefined; body: unknown }
let server: Server
let base: string
const seen: Seen[] = []
let reply: (req: Seen) => { status: number; body: unknown } = () => ({ status: 500, body: {} })

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64')
const readJson = async (req: IncomingMessage) => {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  return text ? (JSON.parse(text) as unknown) : undefined
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const s: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      body: await readJson(req),
    }
    seen.push(s)
    const { status, body } = reply(s)
    res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
beforeEach(() => {
  seen.length = 0
})

const client = () => createPullClient({ apiBase: base, accountId: 'acc123', queueId: 'q-uuid-1', apiToken: 'cf-token' })
const ok = (result: unknown) => ({ status: 200, body: { success: true, errors: [], messages: [], result } })

describe('pull', () => {
  it('POSTs batch_size and visibility_timeout_ms to .../messages/pull with the bearer token, and decodes base64 JSON bodies', async () => {
    const launch = { op: 'launch', cluster_name: 'cic-a100-00000001' }
    reply = () =>
      ok({
        messages: [
          {
            id: 'm1',
            body: b64(launch),
            timestamp_ms: 1689615013586,
            attempts: 2,
            lease_id: 'lease-1',
            metadata: { 'CF-sourceMessageSource': 'worker', 'CF-Content-Type': 'json' },
          },
          { id: 'm2', body: 'plain words', timestamp_ms: 1689615013587, attempts: 1, lease_id: 'lease-2', metadata: { 'CF-Content-Type': 'text' } },
        ],
        message_backlog_count: 12,
        metadata: { metrics: { backlog_count: 12, backlog_bytes: 3456, oldest_message_timestamp_ms: 0 } },
      })
    const messages = await client().pull({ batchSize: 3, visibilityTimeoutMs: 600_000 })
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/client/v4/accounts/acc123/queues/q-uuid-1/messages/pull',
        authorization: 'Bearer cf-token',
        contentType: 'application/json',
        body: { batch_size: 3, visibility_timeout_ms: 600_000 },
      },
    ])
    expect(messages).toEqual([
      { id: 'm1', leaseId: 'lease-1', attempts: 2, timestampMs: 1689615013586, body: launch },
      { id: 'm2', leaseId: 'lease-2', attempts: 1, timestampMs: 1689615013587, body: 'plain words' },
    ])
  })

  it('returns an empty list for an empty queue (short polling)', async () => {
    reply = () => ok({ messages: [] })
    expect(await client().pull({ batchSize: 5, visibilityTimeoutMs: 30_000 })).toEqual([])
  })

  it('keeps an undecodable message, flagged, so the caller can drop it instead of crashing', async () => {
    reply = () =>
      ok({
        messages: [
          {
            id: 'bad',
            body: Buffer.from('{not json').toString('base64'),
            timestamp_ms: 1,
            attempts: 1,
            lease_id: 'l',
            metadata: { 'CF-Content-Type': 'json' },
          },
          { id: 'v8', body: 'AAAA', timestamp_ms: 1, attempts: 1, lease_id: 'l2', metadata: { 'CF-Content-Type': 'v8' } },
        ],
      })
    const [bad, v8] = await client().pull({ batchSize: 5, visibilityTimeoutMs: 30_000 })
    expect(bad).toMatchObject({ id: 'bad', body: undefined, decodeError: expect.stringContaining('undecodable json') })
    expect(v8).toMatchObject({ id: 'v8', body: undefined, decodeError: expect.stringContaining("unsupported content type 'v8'") })
  })

  it("throws QueueApiError with Cloudflare's error messages on HTTP errors and on success: false", async () => {
    reply = () => ({ status: 403, body: { success: false, errors: [{ code: 10000, message: 'Authentication error' }], messages: [], result: null } })
    const denied = await client()
      .pull({ batchSize: 1, visibilityTimeoutMs: 1000 })
      .catch((e: unknown) => e)
    expect(denied).toBeInstanceOf(QueueApiError)
    expect(denied).toMatchObject({ status: 403, message: expect.stringContaining('10000 Authentication error') })
    reply = () => ({ status: 200, body: { success: false, errors: [{ code: 11000, message: 'Queue not found' }], result: null } })
    await expect(client().pull({ batchSize: 1, visibilityTimeoutMs: 1000 })).rejects.toThrow(/Queue not found/)
    reply = () => ({ status: 502, body: '<html>bad gateway</html>' })
    await expect(client().pull({ batchSize: 1, visibilityTimeoutMs: 1000 })).rejects.toThrow(/HTTP 502, not JSON/)
  })
})

describe('ack', () => {
  it('POSTs acks and retries with lease ids and delay_seconds to .../messages/ack and returns the counts', async () => {
    reply = () => ok({ ackCount: 1, retryCount: 1, warnings: { 'lease-x': 'message not found' } })
    const result = await client().ack({ acks: ['lease-1'], retries: [{ leaseId: 'lease-2', delaySeconds: 600 }] })
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/client/v4/accounts/acc123/queues/q-uuid-1/messages/ack',
        authorization: 'Bearer cf-token',
        contentType: 'application/json',
        body: { acks: [{ lease_id: 'lease-1' }], retries: [{ lease_id: 'lease-2', delay_seconds: 600 }] },
      },
    ])
    expect(result).toMatchObject({ ackCount: 1, retryCount: 1, warnings: { 'lease-x': 'message not found' } })
  })

  it('rejects a result that does not have the documented shape', async () => {
    reply = () => ok({ acked: 1 })
    await expect(client().ack({ acks: ['l'], retries: [] })).rejects.toThrow()
  })
})
