// Console sign-in against the OIDC stand-in over TCP (the same oauth4webapi code path as Google): the whole flow,
// and every check that must refuse it (state, nonce, the browser binding, email_verified, open redirects).
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import worker from '../../src/index.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.ts'
import { eventually } from '../helpers/standin.ts'
import { Browser, consoleEnv, uniqueEmail, workerFetch } from './console-browser.ts'

const auditRows = (action: string, actor: string) =>
  env.DB.prepare('SELECT actor, action, target, after FROM audit_log WHERE action = ? AND actor = ?')
    .bind(action, actor)
    .all<{ target: string; after: string }>()

describe('console sign-in (OIDC code + PKCE + state + nonce)', () => {
  it('signs a new user in: redirect to the issuer with S256 PKCE, state and nonce; session cookie; audited; no access yet', async () => {
    const b = new Browser()
    const email = uniqueEmail('new')
    const authorize = await b.startSignIn('/dashboard/tenants')
    expect(authorize.origin).toBe(new URL(consoleEnv.OIDC_ISSUER).origin)
    expect(authorize.pathname).toBe('/authorize')
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(authorize.searchParams.get('state')).toBeTruthy()
    expect(authorize.searchParams.get('nonce')).toBeTruthy()
    expect(authorize.searchParams.get('redirect_uri')).toBe('http://console.test/dashboard/auth/callback')
    expect(authorize.searchParams.get('scope')).toBe('openid email profile')
    expect(b.cookies.has('cic_login')).toBe(true)

    const callback = await Browser.submitSignInForm(authorize, email)
    const res = await b.finishSignIn(callback)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('/dashboard/tenants')
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('cic_session='))
    expect(setCookie).toMatch(/HttpOnly/i)
    expect(setCookie).toMatch(/SameSite=Lax/i)
    expect(setCookie).toMatch(/Path=\//)
    expect(setCookie).not.toMatch(/Secure/i) // ENVIRONMENT=test: plain http; production-like environments add Secure

    const me = await b.json<{ user: { email: string; id: string }; operator: boolean; memberships: unknown[]; csrf_token: string }>('/dashboard/api/me')
    expect(me.user.email).toBe(email)
    expect(me.operator).toBe(false)
    expect(me.memberships).toEqual([])
    expect(me.csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    // No role: nothing to see, and no tenant route answers.
    expect(await b.json('/dashboard/api/tenants')).toEqual({ tenants: [] })
    expect((await b.fetch('/dashboard/api/nodes')).status).toBe(403)
    expect((await b.fetch('/dashboard/api/overview')).status).toBe(403)

    const rows = await auditRows('console.sign_in', `user:${email}`)
    expect(rows.results).toHaveLength(1)
    expect(JSON.parse(rows.results[0]?.after ?? '{}')).toMatchObject({ email, new_user: true })
    // The session id is stored hashed only.
    const stored = await env.DB.prepare('SELECT id_hash FROM console_sessions WHERE user_id = ?').bind(me.user.id).all<{ id_hash: string }>()
    expect(stored.results).toHaveLength(1)
    expect(stored.results[0]?.id_hash).not.toBe(b.cookies.get('cic_session'))
    expect(stored.results[0]?.id_hash).toMatch(/^[0-9a-f]{64}$/)
  })

  it('keys the user by sub: signing in again is the same user', async () => {
    const email = uniqueEmail('again')
    const first = await new Browser().signIn(email)
    const second = await new Browser().signIn(email)
    expect(second.user.id).toBe(first.user.id)
    const users = await env.DB.prepare('SELECT count(*) AS n FROM console_users WHERE email = ?').bind(email).first<{ n: number }>()
    expect(users?.n).toBe(1)
  })

  it('refuses a callback whose state is not the one this browser started with', async () => {
    const b = new Browser()
    const callback = await Browser.submitSignInForm(await b.startSignIn(), uniqueEmail('state'))
    callback.searchParams.set('state', 'forged-state')
    const res = await b.finishSignIn(callback)
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { type: 'authentication_error', code: 'sign_in_failed' } })
    expect(b.cookies.has('cic_session')).toBe(false)
  })

  it('refuses an ID token whose nonce is not the one sent', async () => {
    const b = new Browser()
    const authorize = await b.startSignIn()
    authorize.searchParams.set('nonce', 'an-attackers-nonce') // the issuer puts this nonce in the ID token
    const res = await b.finishSignIn(await Browser.submitSignInForm(authorize, uniqueEmail('nonce')))
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { code: 'sign_in_failed' } })
    expect(b.cookies.has('cic_session')).toBe(false)
  })

  it('refuses a code exchanged without the PKCE verifier of this sign-in (the challenge was swapped)', async () => {
    const b = new Browser()
    const authorize = await b.startSignIn()
    authorize.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM') // RFC 7636's example, not ours
    const res = await b.finishSignIn(await Browser.submitSignInForm(authorize, uniqueEmail('pkce')))
    expect(res.status).toBe(401)
    expect(b.cookies.has('cic_session')).toBe(false)
  })

  it('refuses a callback in a browser that did not start the sign-in (no cic_login cookie), and a replayed one', async () => {
    const starter = new Browser()
    const callback = await Browser.submitSignInForm(await starter.startSignIn(), uniqueEmail('csrf'))
    const victim = new Browser()
    const res = await victim.finishSignIn(callback)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'sign_in_expired' } })
    expect(victim.cookies.has('cic_session')).toBe(false)
    // The starter's own attempt still works once, then it is used up.
    const login = starter.cookies.get('cic_login') ?? ''
    expect((await starter.finishSignIn(callback)).status).toBe(302)
    starter.cookies.set('cic_login', login)
    expect((await starter.finishSignIn(callback)).status).toBe(400)
  })

  it('refuses an account whose email is not verified', async () => {
    const b = new Browser()
    const res = await b.finishSignIn(await Browser.submitSignInForm(await b.startSignIn(), uniqueEmail('unverified')))
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { code: 'email_not_verified' } })
    expect(b.cookies.has('cic_session')).toBe(false)
  })

  it('never redirects off the console after sign-in (return_to elsewhere becomes /dashboard)', async () => {
    for (const returnTo of ['https://evil.example/x', '//evil.example/x', '/admin/tenants', '/\\evil.example']) {
      const b = new Browser()
      const res = await b.finishSignIn(await Browser.submitSignInForm(await b.startSignIn(returnTo), uniqueEmail('redirect')))
      expect(res.status).toBe(302)
      expect(res.headers.get('location')).toBe('/dashboard')
    }
  })

  it('answers 401 to the API without a session, and with a made-up cookie', async () => {
    const b = new Browser()
    const res = await b.fetch('/dashboard/api/me')
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { type: 'authentication_error', code: 'not_signed_in' } })
    b.cookies.set('cic_session', 'A'.repeat(43))
    expect((await b.fetch('/dashboard/api/tenants')).status).toBe(401)
  })

  it('does not accept the admin token as a console credential', async () => {
    const b = new Browser()
    const res = await b.fetch('/dashboard/api/tenants', { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } })
    expect(res.status).toBe(401)
  })

  it('answers 503 when the issuer cannot be reached, and counts every outcome in cic_console_sign_ins_total', async () => {
    const outcomes = async () => {
      const res = await workerFetch(new Request('http://console.test/metrics', { headers: { authorization: `Bearer ${env.METRICS_TOKEN}` } }))
      const families = parsePrometheusText(await res.text())
      const count = (outcome: string) => sampleValue(families, 'cic_console_sign_ins_total', { outcome })
      return {
        signed_in: count('signed_in'),
        refused: count('refused'),
        unverified: count('unverified'),
        expired: count('expired'),
        provider_unavailable: count('provider_unavailable'),
      }
    }
    const before = await outcomes()
    await new Browser().signIn(uniqueEmail('counted'))
    const forged = new Browser()
    const callback = await Browser.submitSignInForm(await forged.startSignIn(), uniqueEmail('counted-state'))
    callback.searchParams.set('state', 'forged')
    expect((await forged.finishSignIn(callback)).status).toBe(401)
    const unverified = new Browser()
    expect((await unverified.finishSignIn(await Browser.submitSignInForm(await unverified.startSignIn(), uniqueEmail('unverified-counted')))).status).toBe(401)
    expect((await new Browser().fetch('/dashboard/auth/callback?code=x&state=y')).status).toBe(400)
    // An issuer nobody listens on (port 9, discard): the sign-in cannot start.
    const ctx = createExecutionContext()
    const down = await worker.fetch(new Request('http://console.test/dashboard/login'), { ...consoleEnv, OIDC_ISSUER: 'http://127.0.0.1:9' }, ctx)
    await waitOnExecutionContext(ctx)
    expect(down.status).toBe(503)
    expect(await down.json()).toMatchObject({ error: { type: 'server_error', code: 'sign_in_unavailable' } })
    const after = await eventually(outcomes, (o) => o.provider_unavailable > before.provider_unavailable)
    expect({
      signed_in: after.signed_in - before.signed_in,
      refused: after.refused - before.refused,
      unverified: after.unverified - before.unverified,
      expired: after.expired - before.expired,
      provider_unavailable: after.provider_unavailable - before.provider_unavailable,
    }).toEqual({ signed_in: 1, refused: 1, unverified: 1, expired: 1, provider_unavailable: 1 })
  })

  it('bounds sign-in starts per client address (30 a minute), each of which writes a D1 row', async () => {
    const ip = `203.0.113.${Math.floor(Math.random() * 200) + 1}`
    const start = () => new Browser().fetch('/dashboard/login', { headers: { 'cf-connecting-ip': ip } })
    for (let i = 0; i < 30; i++) expect((await start()).status, `start ${i + 1}`).toBe(302)
    const refused = await start()
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(await refused.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'too_many_sign_ins' } })
    // Another address is not affected.
    expect((await new Browser().fetch('/dashboard/login', { headers: { 'cf-connecting-ip': '198.51.100.7' } })).status).toBe(302)
  })
})
