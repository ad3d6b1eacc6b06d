// Console sign-in and sign-out: GET /dashboard/login (to the OIDC issuer), GET /dashboard/auth/callback (verify,
// upsert the user, start a session), POST /dashboard/logout (CSRF-checked), GET /dashboard/invites/:token (accept
// an invite as the signed-in user). The OIDC protocol work is services/console/oidc.ts (oauth4webapi).
import { Hono, type Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { createDb } from '../../db/client.ts'
import { ApiError } from '../../errors.ts'
import { loginQuerySchema } from '../../schemas/console.ts'
import { auditStatement } from '../../services/audit/audit-entry.ts'
import { oidcSettings, sessionLifetimes } from '../../services/console/console-config.ts'
import { finishSignIn, startSignIn } from '../../services/console/oidc.ts'
import { createSession, deleteSession, LOGIN_TTL_MS, saveLogin, sweepSessions, takeLogin } from '../../services/console/sessions.ts'
import { acceptInvite, signInUser, userActor } from '../../services/console/users.ts'
import { authClient, countAuthFailure } from '../../services/keys/auth-failures.ts'
import { countSignIn, type SignInOutcome } from '../../services/metrics/record-metrics.ts'
import { readQuery } from '../read-query.ts'
import { type AppEnv, isProductionLike } from '../../env.ts'
import { consoleSession, csrfCheck, LOGIN_COOKIE, loadPrincipal, principalOf, SESSION_COOKIE, secureCookies } from './console-auth.ts'

const CALLBACK_PATH = '/dashboard/auth/callback'

/** A same-origin path under /dashboard, or /dashboard: never an open redirect. */
export function safeReturnTo(value: string | undefined, origin: string): string {
  if (!value?.startsWith('/') || value.startsWith('//') || value.includes('\\')) return '/dashboard'
  try {
    const url = new URL(value, origin)
    if (url.origin !== origin || !(url.pathname === '/dashboard' || url.pathname.startsWith('/dashboard/'))) return '/dashboard'
    return url.pathname + url.search
  } catch {
    return '/dashboard'
  }
}

/** The metric outcome of a failed callback (services/console/oidc.ts codes). */
function signInFailure(err: unknown): SignInOutcome {
  if (!(err instanceof ApiError)) return 'refused'
  if (err.extra.code === 'email_not_verified') return 'unverified'
  if (err.extra.code === 'sign_in_unavailable') return 'provider_unavailable'
  return 'refused'
}

const originOf = (c: Context<AppEnv>) => new URL(c.req.url).origin

export const signIn = new Hono<AppEnv>()
  .get('/dashboard/login', async (c) => {
    const settings = oidcSettings(c.get('config'))
    // Each start writes a D1 row for anyone who asks: bounded per client with the API-key failure limiter's
    // binding and rule (30 a minute per address, services/keys/auth-failures.ts), under its own key.
    const client = authClient(c.req.raw.headers, isProductionLike(c.get('config')))
    const retryAfter = client ? await countAuthFailure(c.env.AUTH_FAILURES, `console-login:${client}`) : null
    if (retryAfter !== null)
      throw new ApiError('rate_limited', 'Too many sign-in attempts from this address; try again shortly.', {
        code: 'too_many_sign_ins',
        headers: { 'retry-after': String(retryAfter) },
      })
    const { return_to } = readQuery(c, loginQuerySchema)
    const origin = originOf(c)
    const start = await startSignIn(settings, origin + CALLBACK_PATH).catch((err: unknown) => {
      countSignIn(signInFailure(err)) // the issuer's discovery document could not be fetched
      throw err
    })
    const cookie = await saveLogin(createDb(c.env.DB), {
      state: start.state,
      nonce: start.nonce,
      codeVerifier: start.codeVerifier,
      returnTo: safeReturnTo(return_to, origin),
    })
    setCookie(c, LOGIN_COOKIE, cookie, {
      path: '/dashboard/auth',
      httpOnly: true,
      sameSite: 'Lax', // sent on the top-level GET back from the issuer
      secure: secureCookies(c.get('config')),
      maxAge: LOGIN_TTL_MS / 1000,
    })
    c.header('cache-control', 'no-store')
    return c.redirect(start.authorizationUrl.href, 302)
  })
  .get(CALLBACK_PATH, async (c) => {
    const config = c.get('config')
    const settings = oidcSettings(config)
    const db = createDb(c.env.DB)
    const cookie = getCookie(c, LOGIN_COOKIE)
    deleteCookie(c, LOGIN_COOKIE, { path: '/dashboard/auth', secure: secureCookies(config) })
    // The attempt this browser started (one use): without it a callback is refused (login CSRF, replay).
    const pending = cookie ? await takeLogin(db, cookie) : undefined
    if (!pending) {
      countSignIn('expired')
      throw new ApiError('invalid_request', 'No sign-in in progress in this browser (or it expired); start again.', { code: 'sign_in_expired' })
    }
    const identity = await finishSignIn(settings, new URL(c.req.url), { ...pending, redirectUri: originOf(c) + CALLBACK_PATH }).catch((err: unknown) => {
      countSignIn(signInFailure(err))
      throw err
    })
    countSignIn('signed_in')
    const user = await signInUser(db, identity, c.get('requestId'))
    const lifetimes = sessionLifetimes(config)
    await sweepSessions(db, lifetimes)
    const session = await createSession(db, user.id)
    setCookie(c, SESSION_COOKIE, session.cookie, {
      path: '/',
      httpOnly: true,
      sameSite: 'Lax',
      secure: secureCookies(config),
      maxAge: Math.floor(lifetimes.maxMs / 1000),
    })
    c.header('cache-control', 'no-store')
    return c.redirect(pending.returnTo, 302)
  })
  .post('/dashboard/logout', consoleSession(), csrfCheck(), async (c) => {
    const principal = principalOf(c)
    const db = createDb(c.env.DB)
    await db.batch([
      deleteSession(db, principal.session.idHash),
      auditStatement(db, { ...userActor(principal.user, c.get('requestId')), action: 'console.sign_out', target: principal.user.id }),
    ])
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secureCookies(c.get('config')) })
    return c.json({ ok: true as const })
  })
  .get('/dashboard/invites/:token', async (c) => {
    const token = c.req.param('token')
    const principal = await loadPrincipal(c)
    if (!principal) return c.redirect(`/dashboard/login?return_to=${encodeURIComponent(`/dashboard/invites/${encodeURIComponent(token)}`)}`, 302)
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw new ApiError('not_found', 'This invite link is not valid.', { code: 'invite_not_found' })
    const { tenantId } = await acceptInvite(createDb(c.env.DB), token, principal.user, c.get('requestId'))
    return c.redirect(`/dashboard/tenants/${tenantId}`, 302)
  })
