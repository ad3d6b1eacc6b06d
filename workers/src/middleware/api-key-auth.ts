// Authenticates `Authorization: Bearer sk-...` for the public API and puts the tenant identity on the context.
// Revocation and suspension are not checked here but by the tenant's admission object, on every request.
import { createMiddleware } from 'hono/factory'
import { createDb } from '../db/client.ts'
import { dependsOn } from '../dependency.ts'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'
import { setLogTenant } from '../log.ts'
import { resolveApiKey } from '../services/keys/resolve-key.ts'

export const apiKeyAuth = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const key = header.startsWith('Bearer ') ? header.slice(7).trim() : ''
    if (!key) {
      throw new ApiError('unauthorized', 'You didn\'t provide an API key. Provide it in the Authorization header as "Bearer sk-...".', { code: 'missing_api_key' })
    }
    const identity = key.startsWith('sk-') && key.length < 256 ? await dependsOn('d1', () => resolveApiKey(createDb(c.env.DB), key)) : null
    if (!identity) throw new ApiError('unauthorized', 'Incorrect API key provided.', { code: 'invalid_api_key' })
    c.set('identity', identity)
    setLogTenant(identity.tenantId) // every later line of this request names its tenant (never its key)
    await next()
  })
