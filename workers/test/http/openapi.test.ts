// GET /openapi.json and GET /docs: the document is valid OpenAPI 3.1, names every route the app serves (except the
// dev-only ones), and real answers of the running Worker match the schemas it gives; the docs page is self-hosted
// under a CSP without 'unsafe-inline'.
import { validate } from '@readme/openapi-parser'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, inject, it } from 'vitest'
import { createApp } from '../../src/app.ts'
import { admin, api, call, registerNode, seedTenant } from '../helpers/gateway.ts'
import { readSse } from '../helpers/sse.ts'

const standins = inject('standins')
type Doc = {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> }
}
type Operation = {
  security: Record<string, string[]>[]
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: unknown }> }>
  requestBody?: { content: Record<string, { schema: unknown }> }
}

/** Routes only on in development (LOCAL_QUEUE_SHIM), left out of the document on purpose. */
const DEV_ONLY = [/^\/local-queues\//]

async function fetchDocument(): Promise<Doc> {
  const res = await call('/openapi.json')
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  return (await res.json()) as Doc
}

/** A validator for the document's own schemas (components and path answers), resolving its $refs. */
function validatorFor(doc: Doc) {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true })
  ajv.addSchema({ $id: 'doc', components: doc.components }, 'doc')
  return (schema: unknown, value: unknown) => {
    const check = ajv.compile({ $defs: {}, ...(rewriteRefs(schema) as object) })
    const ok = check(value)
    return ok ? null : JSON.stringify(check.errors)
  }
}
const rewriteRefs = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema).replaceAll('"$ref":"#/components/', '"$ref":"doc#/components/'))

function answerSchema(doc: Doc, path: string, method: string, status: number, type = 'application/json'): unknown {
  const response = doc.paths[path]?.[method]?.responses[String(status)]
  expect(response, `${method.toUpperCase()} ${path} documents ${status}`).toBeDefined()
  if (response?.$ref) return { $ref: `doc${response.$ref}/content/${type.replace('/', '~1')}/schema` }
  const schema = response?.content?.[type]?.schema
  expect(schema, `${method.toUpperCase()} ${path} ${status} has a ${type} schema`).toBeDefined()
  return schema
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document (@readme/openapi-parser)', async () => {
    const doc = await fetchDocument()
    expect(doc.openapi).toMatch(/^3\.1\./)
    const result = await validate(structuredClone(doc) as never)
    expect(result.valid ? [] : result.errors).toEqual([])
    expect(result.warnings).toEqual([])
    // The validator can fail: an operation answering with an undefined response component is refused.
    const broken = structuredClone(doc)
    broken.paths['/health'] = { get: { ...broken.paths['/health']?.get, responses: { 200: { $ref: '#/components/responses/Nope' } } } as Operation }
    expect((await validate(broken as never)).valid).toBe(false)
  })

  it('documents every route the app serves except the dev-only ones, and nothing it does not serve', async () => {
    const doc = await fetchDocument()
    const served = new Set(
      createApp()
        .routes.filter((r) => r.method !== 'ALL') // middleware (app.use)
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`)
        .filter((route) => !DEV_ONLY.some((re) => re.test(route.split(' ')[1] ?? ''))),
    )
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`)))
    expect(
      [...served].filter((r) => !documented.has(r)),
      'served but not documented',
    ).toEqual([])
    expect(
      [...documented].filter((r) => !served.has(r)),
      'documented but not served',
    ).toEqual([])
    expect(served.size).toBeGreaterThan(40)
    expect([...documented].some((r) => r.includes('/local-queues'))).toBe(false)
  })

  it('names a security scheme on every authenticated route and error responses in the envelope', async () => {
    const doc = await fetchDocument()
    expect(doc.paths['/v1/chat/completions']?.post?.security).toEqual([{ ApiKey: [] }])
    expect(doc.paths['/admin/tenants']?.post?.security).toEqual([{ AdminToken: [] }])
    expect(doc.paths['/runner/nodes/{cluster}/status']?.post?.security).toEqual([{ RunnerToken: [] }])
    expect(doc.paths['/nodes/register']?.post?.security).toEqual([{ NodeRegistrationToken: [] }])
    expect(doc.paths['/api/webhooks/stripe']?.post?.security).toEqual([{ StripeSignature: [] }])
    expect(doc.paths['/health']?.get?.security).toEqual([])
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        // The webhook's bad signature is a 400 (Stripe's convention), not a 401.
        if (op.security.length && !op.security.some((s) => 'StripeSignature' in s))
          expect(op.responses['401'], `${method} ${path} documents 401`).toEqual({ $ref: '#/components/responses/Error401' })
      }
    }
    const sse = doc.paths['/v1/chat/completions']?.post?.responses['200']?.content
    expect(Object.keys(sse ?? {})).toEqual(['application/json', 'text/event-stream'])
  })
})

describe('real answers match the document', () => {
  it("a non-streamed chat completion, a stream's chunks, the model list and a usage answer", async () => {
    const doc = await fetchDocument()
    const check = validatorFor(doc)
    await registerNode(standins.healthy, ['cic-demo-llm'])
    const { key } = await seedTenant()
    const body = { model: 'cic-demo-llm', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 }
    const requestSchema = doc.paths['/v1/chat/completions']?.post?.requestBody?.content['application/json']?.schema
    expect(check(requestSchema, body)).toBeNull()

    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: body })
    expect(res.status).toBe(200)
    const completion = await res.json()
    expect(check(answerSchema(doc, '/v1/chat/completions', 'post', 200), completion)).toBeNull()
    // The check can fail: a field of the wrong type is refused.
    expect(check(answerSchema(doc, '/v1/chat/completions', 'post', 200), { ...(completion as object), created: 'yesterday' })).not.toBeNull()

    const streamed = await api(key, '/v1/chat/completions', { method: 'POST', json: { ...body, stream: true, stream_options: { include_usage: true } } })
    expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = await readSse(streamed)
    const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e) as unknown)
    expect(chunks.length).toBeGreaterThan(1)
    for (const chunk of chunks) expect(check({ $ref: 'doc#/components/schemas/ChatCompletionChunk' }, chunk)).toBeNull()

    const models = await api(key, '/v1/models')
    expect(check(answerSchema(doc, '/v1/models', 'get', 200), await models.json())).toBeNull()

    const usage = await api(key, '/v1/usage?group_by=model&from=2025-01-01T00:00:00Z')
    expect(usage.status).toBe(200)
    expect(check(answerSchema(doc, '/v1/usage', 'get', 200), await usage.json())).toBeNull()
  })

  it('an error envelope (401, 400, 404), an admin tenant and key creation, a node registration, the node list and the audit trail', async () => {
    const doc = await fetchDocument()
    const check = validatorFor(doc)
    const unauthorized = await call('/v1/models', { headers: { authorization: 'Bearer sk-not-a-key' } })
    expect(unauthorized.status).toBe(401)
    expect(check(answerSchema(doc, '/v1/models', 'get', 401), await unauthorized.json())).toBeNull()
    expect(check(answerSchema(doc, '/v1/models', 'get', 401), { error: { message: 'x', type: 'made_up_error', param: null, code: null } })).not.toBeNull()

    const tenantBody = { name: 'openapi-tenant', plan: 'starter', limits: { rpm: 10 } }
    expect(check(doc.paths['/admin/tenants']?.post?.requestBody?.content['application/json']?.schema, tenantBody)).toBeNull()
    expect(check(doc.paths['/admin/tenants']?.post?.requestBody?.content['application/json']?.schema, { ...tenantBody, extra: 1 })).not.toBeNull()
    const created = await admin('/admin/tenants', { method: 'POST', json: tenantBody })
    expect(created.status).toBe(201)
    const tenant = (await created.json()) as { id: string }
    expect(check(answerSchema(doc, '/admin/tenants', 'post', 201), tenant)).toBeNull()

    const keyRes = await admin(`/admin/tenants/${tenant.id}/keys`, { method: 'POST', json: { name: 'k' } })
    expect(check(answerSchema(doc, '/admin/tenants/{id}/keys', 'post', 201), await keyRes.json())).toBeNull()

    const invalid = await admin('/admin/tenants', { method: 'POST', json: { name: '' } })
    expect(invalid.status).toBe(400)
    expect(check(answerSchema(doc, '/admin/tenants', 'post', 400), await invalid.json())).toBeNull()
    const node = await admin('/admin/nodes', { method: 'POST', json: { endpoint: standins.healthy, models: ['Qwen/Qwen2.5-7B-Instruct'] } })
    expect(node.status).toBe(201)
    const registered = (await node.json()) as { status: string; breaker?: unknown }
    expect(registered).toMatchObject({ status: 'ready', breaker: expect.any(Object) }) // the detail view, with its monitor's fields
    expect(check(answerSchema(doc, '/admin/nodes', 'post', 201), registered)).toBeNull()
    const nodes = await admin('/admin/nodes')
    expect(check(answerSchema(doc, '/admin/nodes', 'get', 200), await nodes.json())).toBeNull()
    const audit = await admin('/admin/audit?limit=5')
    const page = (await audit.json()) as { data: unknown[] }
    expect(page.data.length).toBeGreaterThan(0)
    expect(check(answerSchema(doc, '/admin/audit', 'get', 200), page)).toBeNull()

    const missing = await admin('/admin/tenants/tnt_nope')
    expect(missing.status).toBe(404)
    expect(check(answerSchema(doc, '/admin/tenants/{id}', 'get', 404), await missing.json())).toBeNull()
  })
})

describe('GET /docs', () => {
  it('serves the reference page under a nonce CSP without unsafe-inline, and its script from the ASSETS binding', async () => {
    const res = await call('/docs')
    expect(res.status).toBe(200)
    const csp = res.headers.get('content-security-policy') ?? ''
    const nonce = /'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1]
    expect(nonce).toBeDefined()
    const directives = new Map(csp.split('; ').map((d) => [d.split(' ')[0], d]))
    expect(directives.get('script-src')).toBe("script-src 'self'") // no inline script, no eval
    expect(directives.get('default-src')).toBe("default-src 'none'")
    expect(directives.get('connect-src')).toBe("connect-src 'self'")
    // <style> elements only by nonce or hash; inline style attributes are the one exception (Vue's cssText).
    expect(directives.get('style-src')).toMatch(/^style-src 'self' 'nonce-[^']+'( 'sha256-[A-Za-z0-9+/=]+')*$/)
    expect([...directives.keys()].filter((name) => directives.get(name)?.includes('unsafe-'))).toEqual(['style-src-attr'])
    const html = await res.text()
    expect(html).toContain(`<meta property="csp-nonce" content="${nonce}">`)
    expect(html).toContain('data-url="/openapi.json"')
    expect(html).not.toMatch(/https?:\/\//) // nothing from a CDN
    expect(html.match(/<script[^>]*>([^<]+)<\/script>/)).toBeNull() // no inline script body
    const again = await call('/docs')
    expect(again.headers.get('content-security-policy')).not.toBe(csp) // a fresh nonce per answer

    const script = await call('/docs/scalar.js')
    expect(script.status).toBe(200)
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(script.headers.get('x-content-type-options')).toBe('nosniff')
    const text = await script.text()
    expect(text.length).toBeGreaterThan(1_000_000)
    expect(text).toContain('csp-nonce') // Scalar's standalone bundle, which reads the nonce for its <style>
  })
})
