// A browser for the console tests: a cookie jar in front of the Worker's fetch handler, with OIDC_ISSUER and
// STRIPE_API_BASE pointed at this run's stand-ins, and the whole sign-in dance against the OIDC stand-in over TCP
// (its sign-in form read and submitted as a browser would).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { expect, inject } from 'vitest'
import worker from '../../src/index.ts'

export const ORIGIN = 'http://console.test'
export const consoleEnv = { ...env, OIDC_ISSUER: inject('oidcStandin'), STRIPE_API_BASE: inject('consoleStripe') }

/** One Worker invocation, as production would run it (waitUntil work awaited). */
export async function workerFetch(request: Request): Promise<Response> {
  const ctx = createExecutionContext()
  const res = await worker.fetch(request, consoleEnv, ctx)
  await waitOnExecutionContext(ctx)
  return res
}

type Init = { method?: string; json?: unknown; headers?: Record<string, string> }

export class Browser {
  readonly cookies = new Map<string, string>()
  csrf = ''

  private store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a))
      if (expired || value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  /** A same-origin request from the console's page (Origin and the CSRF token on writes, as the app sends them). */
  async fetch(path: string, init: Init = {}): Promise<Response> {
    const method = init.method ?? (init.json !== undefined ? 'POST' : 'GET')
    const headers = new Headers(init.headers)
    if (this.cookies.size) headers.set('cookie', this.cookieHeader())
    if (method !== 'GET' && !headers.has('origin')) headers.set('origin', ORIGIN)
    if (method !== 'GET' && this.csrf && !headers.has('x-csrf-token')) headers.set('x-csrf-token', this.csrf)
    let body: string | undefined
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json')
      body = JSON.stringify(init.json)
    }
    const res = await workerFetch(new Request(ORIGIN + path, { method, headers, body, redirect: 'manual' }))
    this.store(res)
    return res
  }

  async json<T = Record<string, unknown>>(path: string, init: Init = {}): Promise<T> {
    const res = await this.fetch(path, init)
    if (res.status >= 300) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }

  /** GET /dashboard/login, then the stand-in's authorize page: returns its URL (with state, nonce, PKCE challenge). */
  async startSignIn(returnTo = '/dashboard'): Promise<URL> {
    const res = await this.fetch(`/dashboard/login?return_to=${encodeURIComponent(returnTo)}`)
    expect(res.status).toBe(302)
    return new URL(res.headers.get('location') ?? '')
  }

  /** Submits the stand-in's sign-in form (read from its HTML) as `email`: the callback URL it redirects to. */
  static async submitSignInForm(authorizeUrl: URL, email: string): Promise<URL> {
    const page = await (await fetch(authorizeUrl)).text()
    const form = /<form method="get" action="([^"]+)">([\s\S]*?)<\/form>/.exec(page)
    expect(form, 'the stand-in serves a sign-in form').not.toBeNull()
    expect(page).toMatch(/<input name="email"/)
    expect(page).toMatch(/<button type="submit">Sign in<\/button>/)
    const target = new URL(form?.[1] ?? '', authorizeUrl)
    for (const m of (form?.[2] ?? '').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      target.searchParams.set(
        m[1] ?? '',
        (m[2] ?? '').replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))),
      )
    }
    target.searchParams.set('email', email)
    const res = await fetch(target, { redirect: 'manual' })
    expect(res.status).toBe(302)
    return new URL(res.headers.get('location') ?? '')
  }

  /** The callback, as the browser follows the issuer's redirect. */
  finishSignIn(callback: URL): Promise<Response> {
    return this.fetch(callback.pathname + callback.search)
  }

  /** The whole sign-in; then reads /me for the CSRF token. */
  async signIn(email: string, returnTo = '/dashboard'): Promise<Me> {
    const callback = await Browser.submitSignInForm(await this.startSignIn(returnTo), email)
    const res = await this.finishSignIn(callback)
    if (res.status !== 302) throw new Error(`sign-in callback: ${res.status} ${await res.text()}`)
    const me = await this.json<Me>('/dashboard/api/me')
    this.csrf = me.csrf_token
    return me
  }
}

export type Me = {
  user: { id: string; email: string; name: string | null }
  operator: boolean
  memberships: { tenant_id: string; tenant_name: string; role: string }[]
  csrf_token: string
}

export const uniqueEmail = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}@example.test`

/** An operator's browser (OPERATOR_EMAILS in vitest.config.ts names ops@cic.test). */
export async function operator(): Promise<Browser> {
  const b = new Browser()
  await b.signIn('ops@cic.test')
  return b
}

/** A tenant created by the operator in the console. */
export async function createTenant(op: Browser, name = `t-${crypto.randomUUID().slice(0, 8)}`): Promise<string> {
  const res = await op.fetch('/dashboard/api/tenants', { json: { name } })
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}

/** Invites `email` to the tenant with `role` (as `admin`), then signs `email` in and accepts: their browser. */
export async function member(admin: Browser, tenantId: string, email: string, role: 'tenant_admin' | 'tenant_member'): Promise<Browser> {
  const invite = await admin.json<{ invite_url: string }>(`/dashboard/api/tenants/${tenantId}/invites`, { method: 'POST', json: { email, role } })
  const b = new Browser()
  await b.signIn(email)
  const accepted = await b.fetch(new URL(invite.invite_url).pathname)
  expect(accepted.status).toBe(302)
  expect(accepted.headers.get('location')).toBe(`/dashboard/tenants/${tenantId}`)
  return b
}
