// Numeric request fields that feed admission and billing are validated at the edge: best_of other than 1,
// non-integer, out-of-range and infinite values (JSON's 1e309 parses to Infinity) are 400s naming the field,
// and they never reach the tenant's admission object (its TPM limit keeps holding after a flood of them).
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { api, registerNode, seedTenant } from '../helpers/gateway.ts'

beforeAll(async () => {
  await registerNode(inject('standins').healthy, ['cic-demo-llm'])
})

const MESSAGES = '[{"role":"user","content":"hello there"}]'
/** A raw JSON body, so numbers such as 1e309 reach the gateway as written. */
const rawChat = (fields: string) => `{"model":"cic-demo-llm","messages":${MESSAGES}${fields ? `,${fields}` : ''}}`
const post = (key: string, body: string, path = '/v1/chat/completions') =>
  api(key, path, { method: 'POST', body, headers: { 'content-type': 'application/json' } })

describe('numeric request fields', () => {
  it.each([
    ['"best_of":2', 'best_of'],
    ['"best_of":1e309', 'best_of'],
    ['"best_of":0', 'best_of'],
    ['"max_tokens":1e309', 'max_tokens'],
    ['"max_tokens":-1e309', 'max_tokens'],
    ['"max_tokens":1.5', 'max_tokens'],
    ['"max_tokens":0', 'max_tokens'],
    ['"max_tokens":2147483648', 'max_tokens'],
    ['"max_completion_tokens":1e309', 'max_completion_tokens'],
    ['"n":1e309', 'n'],
    ['"n":2.5', 'n'],
    ['"min_tokens":1e309', 'min_tokens'],
  ])('answers 400 invalid_request_error for %s, naming the field', async (fields, param) => {
    const { key } = await seedTenant()
    const res = await post(key, rawChat(fields))
    expect(res.status).toBe(400)
    expect(res.headers.get('x-request-id')).toMatch(/^req_/)
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param } })
  })

  it('refuses best_of 2 on text completions too, and accepts best_of 1 and large finite max_tokens', async () => {
    const { key } = await seedTenant()
    const completion = await post(key, '{"model":"cic-demo-llm","prompt":"hello","best_of":2}', '/v1/completions')
    expect(completion.status).toBe(400)
    expect(await completion.json()).toMatchObject({ error: { param: 'best_of', message: expect.stringContaining('best_of must be 1') } })
    const ok = await post(key, rawChat('"best_of":1,"max_tokens":3'))
    expect(ok.status).toBe(200)
    const large = await post(key, rawChat('"max_tokens":2147483647'))
    expect(large.status).toBe(200) // capped to the context by admission, forwarded within it
  })

  it('keeps the TPM limit holding after a flood of infinite best_of requests', async () => {
    // Each admitted request reserves its prompt estimate plus 100 tokens: a 500-token TPM admits 4 of them.
    const { key } = await seedTenant({ tpm: 500 })
    for (let i = 0; i < 5; i++) expect((await post(key, rawChat('"best_of":1e309,"max_tokens":100'))).status).toBe(400)
    // Concurrent, so each holds its reservation while the others are admitted.
    const responses = await Promise.all(Array.from({ length: 8 }, () => post(key, rawChat('"max_tokens":100'))))
    const statuses = responses.map((r) => r.status).sort()
    await Promise.all(responses.map((r) => r.text()))
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429])
  })
})
