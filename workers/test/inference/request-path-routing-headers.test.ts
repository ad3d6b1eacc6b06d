// A request admitted and then refused by routing (no node serves its model, or none is ready) still counted
// against the tenant's limits: its error answer carries the x-ratelimit-* headers an admitted answer has.
import { describe, expect, it } from 'vitest'
import { api, registerNode, seedTenant, uniqueModel } from '../helpers/gateway.ts'

const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 })
const rateHeaders = (res: Response) => Object.fromEntries([...res.headers].filter(([name]) => name.startsWith('x-ratelimit-')))

describe('routing errors after admission', () => {
  it('sends x-ratelimit-* on a 404 for a model no node serves', async () => {
    const { key } = await seedTenant({ rpm: 100, tpm: 10_000 })
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat(uniqueModel('no-such')) })
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: { code: 'model_not_found' } })
    expect(rateHeaders(res)).toMatchObject({
      'x-ratelimit-limit-requests': '100',
      'x-ratelimit-remaining-requests': '99',
      'x-ratelimit-limit-tokens': '10000',
      'x-ratelimit-remaining-tokens': expect.stringMatching(/^\d+$/),
    })
    expect(res.headers.get('x-request-id')).toMatch(/^req_/)
  })

  it("sends x-ratelimit-* next to retry-after on a 503 when the model's node is not ready", async () => {
    const { key } = await seedTenant({ rpm: 50 })
    const model = uniqueModel('warming')
    expect((await registerNode('http://127.0.0.1:1', [model])).status).toBe('warming')
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat(model) })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('5')
    expect(rateHeaders(res)).toMatchObject({ 'x-ratelimit-limit-requests': '50', 'x-ratelimit-remaining-requests': '49' })
  })
})
