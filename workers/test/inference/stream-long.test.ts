// A long stream through the gateway, over real TCP from a stand-in: 4,000 tokens sent by the node in one go
// (large chunks), relayed whole to the client with [DONE], the continuous usage cut out of every event, and
// billed once from the node's last usage. (A relay that wrote on without awaiting its writes hung such a stream
// after ~600 events behind a real client socket, in npm run bench's 4,000-token section; this test, whose client
// reads in the same isolate, did not show that hang: the bench section is its check.)
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { jsonEvents, readSse } from '../helpers/sse.ts'
import { standin } from '../helpers/standin.ts'

const node = standin(inject('pools').longStream[0] as string)
const TOKENS = 4_000

afterEach(async () => {
  await node.reset()
})

async function usageRow(requestId: string): Promise<{ completion_tokens: number; outcome: string }[]> {
  const read = async () =>
    (
      await env.DB.prepare('SELECT completion_tokens, outcome FROM usage_events WHERE request_id LIKE ?')
        .bind(`${requestId}/req_%`)
        .all<{ completion_tokens: number; outcome: string }>()
    ).results
  for (let i = 0; i < 200; i++) {
    const rows = await read()
    if (rows.length > 0) {
      await new Promise((r) => setTimeout(r, 200)) // a duplicate row would have landed by now
      return read()
    }
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`no usage row for ${requestId}`)
}

describe('a long stream', () => {
  it(`relays a ${TOKENS}-token stream whole, without the usage the client did not ask for, and bills it once`, async () => {
    await node.setKnobs({ answerTokens: TOKENS })
    await registerNode(node.url, ['pool-1'])
    const { key } = await seedTenant()
    const res = await api(key, '/v1/chat/completions', {
      method: 'POST',
      headers: { 'x-request-id': 'long-stream-0001' },
      json: { model: 'pool-1', messages: [{ role: 'user', content: 'go on' }], max_tokens: TOKENS, stream: true },
    })
    expect(res.status).toBe(200)
    const events = await readSse(res)
    expect(events.at(-1)).toBe('[DONE]')
    const parsed = jsonEvents(events)
    const content = parsed.filter((e) => (e.choices?.[0]?.delta?.content ?? '') !== '')
    expect(content).toHaveLength(TOKENS)
    expect(parsed.filter((e) => e.usage !== undefined)).toEqual([]) // cut from every event
    expect(await usageRow('long-stream-0001')).toEqual([{ completion_tokens: TOKENS, outcome: 'completed' }])
  }, 30_000)
})
