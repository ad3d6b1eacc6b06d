// Log lines written during an API request carry the tenant once auth resolved it (not only the access line),
// with the request id, and never the key: driven through the real requestId/config/observeRequest/apiKeyAuth
// middlewares and onError, with a probe route that logs like any service would (inline, in waitUntil, on error).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { Hono } from 'hono'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { AppEnv } from '../../src/env.ts'
import { onError } from '../../src/errors.ts'
import { log } from '../../src/log.ts'
import { apiKeyAuth } from '../../src/middleware/api-key-auth.ts'
import { config } from '../../src/middleware/config.ts'
import { observeRequest } from '../../src/middleware/observe-request.ts'
import { requestId } from '../../src/middleware/request-id.ts'
import { seedTenant } from '../helpers/gateway.ts'

afterEach(() => {
  vi.restoreAllMocks()
})

function probeApp() {
  const app = new Hono<AppEnv>()
  app.use(requestId(), config(), observeRequest())
  app.route(
    '/v1',
    new Hono<AppEnv>()
      .use(apiKeyAuth())
      .get('/probe', (c) => {
        log.info('probe_inline')
        c.executionCtx.waitUntil(new Promise((r) => setTimeout(r, 5)).then(() => log.warn('probe_later')))
        return c.text('ok')
      })
      .get('/boom', () => {
        throw new Error('probe failure')
      }),
  )
  app.onError(onError)
  return app
}

async function linesOf(path: string, key: string): Promise<{ res: Response; entries: Record<string, unknown>[]; lines: string[] }> {
  const lines: string[] = []
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    lines.push(String(line))
  })
  const ctx = createExecutionContext()
  const res = await probeApp().fetch(new Request(`http://gateway.test${path}`, { headers: { authorization: `Bearer ${key}` } }), env, ctx)
  await res.text()
  await waitOnExecutionContext(ctx)
  vi.restoreAllMocks()
  return { res, lines, entries: lines.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

describe('log scope', () => {
  it('stamps tenant_id and request_id on every line of an authenticated request, waitUntil work included', async () => {
    const { key, tenantId } = await seedTenant()
    const { res, entries, lines } = await linesOf('/v1/probe', key)
    expect(res.status).toBe(200)
    const requestIdHeader = res.headers.get('x-request-id') as string
    for (const msg of ['probe_inline', 'probe_later', 'request']) {
      expect(entries.find((e) => e.msg === msg)).toMatchObject({ request_id: requestIdHeader, tenant_id: tenantId })
    }
    for (const line of lines) expect(line).not.toContain(key)
  })

  it('stamps it on the error line of an unhandled failure too', async () => {
    const { key, tenantId } = await seedTenant()
    const { res, entries } = await linesOf('/v1/boom', key)
    expect(res.status).toBe(500)
    expect(entries.find((e) => e.msg === 'unhandled_error')).toMatchObject({ tenant_id: tenantId, error: expect.stringContaining('probe failure') })
  })

  it('has no tenant_id before the key is resolved (a rejected key names no tenant)', async () => {
    const { entries } = await linesOf('/v1/probe', 'sk-not-a-real-key-0123456789')
    const access = entries.find((e) => e.msg === 'request')
    expect(access).toMatchObject({ status: 401, tenant_id: null })
    expect(entries.every((e) => e.msg === 'request' || !('tenant_id' in e))).toBe(true)
  })
})
