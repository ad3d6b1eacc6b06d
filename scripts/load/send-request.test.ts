import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RequestSpec } from './mix.ts'
import { blankOutcome, sendRequest } from './send-request.ts'

let server: http.Server
let base: URL
const agent = new http.Agent({ keepAlive: true })

const frame = (data: unknown) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/hang') return // never answers
    if (req.url === '/stream' || req.url === '/broken') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(frame({ choices: [{ delta: { role: 'assistant', content: '' } }] }))
      res.write(frame({ choices: [{ delta: { content: 'hi ' } }] }))
      if (req.url === '/broken') return res.end(frame({ error: { message: 'node failed', code: 'upstream_stream_error' } }))
      res.write(frame({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 1 } }))
      return res.end(frame('[DONE]'))
    }
    res.writeHead(429, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: 'Rate limit reached for requests per minute (RPM): Limit 1', code: 'rate_limit_exceeded' } }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})

afterAll(async () => {
  agent.destroy()
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

const spec = (path: string, stream: boolean): RequestSpec => ({ kind: 'chat', stream, tenant: 0, key: 0, model: 'm', path, body: '{}' })
const send = (path: string, stream = false, timeoutMs = 5_000) =>
  sendRequest(agent, base, 'sk', spec(path, stream), blankOutcome(0, spec(path, stream), performance.now()), timeoutMs)

describe('sendRequest', () => {
  it('reads a stream: first token time (not the empty role chunk), the usage frame, a clean end', async () => {
    const o = await send('/stream', true)
    expect(o).toMatchObject({ status: 200, streamBroken: false, errorCode: null, usage: { promptTokens: 4, completionTokens: 1 } })
    expect(o.firstTokenAt).toBeGreaterThanOrEqual(o.headersAt!)
    expect(o.endAt).toBeGreaterThanOrEqual(o.firstTokenAt!)
  })

  it('marks a stream that ends with an error event as broken, with its code', async () => {
    expect(await send('/broken', true)).toMatchObject({ status: 200, streamBroken: true, errorCode: 'upstream_stream_error', usage: null })
  })

  it("reads an error envelope's code and message", async () => {
    expect(await send('/refuse')).toMatchObject({ status: 429, errorCode: 'rate_limit_exceeded', errorMessage: expect.stringContaining('(RPM)') })
  })

  it('gives up on a request that gets no byte, as client_timeout, instead of hanging the run', async () => {
    expect(await send('/hang', false, 100)).toMatchObject({ status: null, errorCode: 'client_timeout' })
  })
})
