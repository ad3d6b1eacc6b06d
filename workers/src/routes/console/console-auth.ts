// Console middleware: the session cookie (`cic_session`) becomes c.var.principal (401 without a live session),
// and every state-changing request must carry the session's CSRF token and come from our own origin.
import type { Context } from 'hono'
import { deleteCookie, getCookie } from 'hono/cookie'
import { createMiddleware } from 'hono/factory'
import { createDb } from '../../db/client.ts'
import type { AppEnv, Config } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { tokensMatch } from '../../middleware/bearer-auth.ts'
import type { Principal } from '../../services/console/authz.ts'
import { isOperatorEmail, sessionLifetimes } from '../../services/console/console-config.ts'
import { readSession } from '../../services/console/sessions.ts'
import { membershipsOf } from '../../services/console/users.ts'

/** The signed-in principal of each request that passed consoleSession (keyed by the request: no AppEnv change). */
const principals = new WeakMap<Request, Principal>()

export function principalOf(c: Context<AppEnv>): Principal {
  const principal = principals.get(c.req.raw)
  if (!principal) throw new ApiError('unauthorized', 'Sign in to use the console.', { code: 'not_signed_in' })
  return principal
}

export const SESSION_COOKIE = 'cic_session'
export const LOGIN_COOKIE = 'cic_login'

/** Secure cookies everywhere but local dev and the tests (plain http on 127.0.0.1). */
export const secureCookies = (config: Config) => config.ENVIRONMENT !== 'development' && config.ENVIRONMENT !== 'test'

const notSignedIn = () => new ApiError('unauthorized', 'Sign in to use the console.', { code: 'not_signed_in' })

/** The live session's principal, or undefined (an expired session is deleted and its cookie cleared). */
export async function loadPrincipal(c: Context<AppEnv>): Promise<Principal | undefined> {
  const cookie = getCookie(c, SESSION_COOKIE)
  if (!cookie) return undefined
  const db = createDb(c.env.DB)
  const config = c.get('config')
  const live = await readSession(db, cookie, sessionLifetimes(config))
  if (!live) {
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secureCookies(config) })
    return undefined
  }
  return {
    user: live.user,
    operator: isOperatorEmail(config, live.user.email),
    memberships: await membershipsOf(db, live.user.id),
    session: { idHash: live.session.idHash, csrfToken: live.session.csrfToken },
  }
}

export const consoleSession = () =>
  createMiddleware<AppEnv>(async function consoleSession(c, next) {
    const principal = await loadPrincipal(c)
    if (!principal) throw notSignedIn()
    principals.set(c.req.raw, principal)
    await next()
  })

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * CSRF: a POST/PUT/PATCH/DELETE needs `x-csrf-token` equal to the session's token (a custom header a cross-site
 * form cannot send, and a value another site cannot read), an Origin equal to ours when the browser sends one,
 * and no `Sec-Fetch-Site: cross-site`. Runs after consoleSession.
 */
export const csrfCheck = () =>
  createMiddleware<AppEnv>(async function csrfCheck(c, next) {
    if (SAFE_METHODS.has(c.req.method)) return next()
    const refuse = (why: string) => new ApiError('forbidden', `Cross-site request refused: ${why}.`, { code: 'csrf_failed' })
    const origin = c.req.header('origin')
    if (origin !== undefined && origin !== new URL(c.req.url).origin) throw refuse('the Origin is not this site')
    if (c.req.header('sec-fetch-site') === 'cross-site') throw refuse('Sec-Fetch-Site is cross-site')
    const presented = c.req.header('x-csrf-token') ?? ''
    if (!presented || !(await tokensMatch(presented, principalOf(c).session.csrfToken))) throw refuse('missing or wrong x-csrf-token')
    await next()
  })
