// Authenticates `Authorization: Bearer sk-...` for the public API and puts the tenant identity on the context.
// Revocation and suspension are not checked here but by the tenant's admission object, on every request.
// A key refused by its text (keyFormat) never reaches D1; every refused key counts against its client, and a client
// over the bound is answered 429 before any lookup (services/keys/auth-failures.ts).
import { createMiddleware } from 'hono/factory'
import { createDb } from '../db/client.ts'
import { dependsOn } from '../dependency.ts'
import { type AppEnv, isProductionLike } from '../env.ts'
import { ApiError } from '../errors.ts'
import { setLogTenant } from '../log.ts'
import { keyFormat, hashApiKey } from '../services/keys/api-key.ts'
import { authClient, blockedFor, countAuthFailure } from '../services/keys/auth-failures.ts'
import { cachedApiKey, lookUpApiKey, type TenantIdentity } from '../services/keys/resolve-key.ts'
import { countAuthFailureReason, type AuthFailureReason } from '../services/metrics/record-metrics.ts'

export const apiKeyAuth = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const key = header.startsWith('Bearer ') ? header.slice(7).trim() : ''
    if (!key) {
      throw new ApiError('unauthorized', 'You didn\'t provide an API key. Provide it in the Authorization header as "Bearer sk-...".', {
        code: 'missing_api_key',
      })
    }
    const client = authClient(c.req.raw.headers, isProductionLike(c.env))
    const format = keyFormat(key)
    if (format === 'malformed' || format === 'checksum') return refuse(c.env, client, format)
    const hash = await hashApiKey(key)
    let identity: TenantIdentity | null | undefined = cachedApiKey(hash)
    if (!identity) {
      const retryAfter = client === null ? null : blockedFor(client)
      if (retryAfter !== null) throw throttled(retryAfter)
      identity = await dependsOn('d1', () => lookUpApiKey(createDb(c.env.DB), hash))
      if (!identity) return refuse(c.env, client, 'unknown')
    }
    c.set('identity', identity)
    setLogTenant(identity.tenantId) // every later line of this request names its tenant (never its key)
    await next()
  })

/** A refused key: 401, or 429 once its client has failed too often (then counted as `throttled`). */
async function refuse(env: Env, client: string | null, reason: Exclude<AuthFailureReason, 'revoked' | 'throttled'>): Promise<never> {
  const retryAfter = client === null ? null : await countAuthFailure(env.AUTH_FAILURES, client)
  if (retryAfter !== null) throw throttled(retryAfter)
  countAuthFailureReason(reason)
  throw new ApiError('unauthorized', 'Incorrect API key provided.', { code: 'invalid_api_key' })
}

function throttled(retryAfterSeconds: number): ApiError {
  countAuthFailureReason('throttled')
  return new ApiError('rate_limited', 'Too many requests with an incorrect API key from this address. Retry later with a valid key.', {
    code: 'too_many_failed_authentications',
    headers: { 'retry-after': String(retryAfterSeconds) },
  })
}
