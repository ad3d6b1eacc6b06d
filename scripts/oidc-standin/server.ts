// Local OpenID Connect provider for the console's sign-in (npm run dev, the workers tests, the browser tests):
// oauth2-mock-server (discovery, JWKS, token endpoint with PKCE, RS256 ID tokens carrying the request's nonce)
// behind a sign-in page that asks for an email address. Anyone can sign in as anyone: never expose it.
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { OAuth2Server } from 'oauth2-mock-server'

export type OidcStandin = { url: string; port: number; close(): Promise<void> }

/** The mock's own authorize endpoint (it issues a code at once); /authorize is the sign-in page in front of it. */
const MOCK_AUTHORIZE = '/mock-authorize'

/** `sub` for an email: stable, like Google's account id, and never the email itself. */
export const subForEmail = (email: string) => `local-${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 32)}`

/** Test knob: an address whose local part starts with `unverified` signs in with email_verified false. */
const isVerified = (email: string) => !/^unverified/i.test(email)

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)

function signInPage(query: URLSearchParams): string {
  const hidden = [...query.entries()]
    .filter(([name]) => name !== 'email')
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n    ')
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in (local OIDC stand-in)</title></head>
<body>
  <h1>Sign in</h1>
  <p>Local stand-in for Google: sign in as any email address.</p>
  <form method="get" action="${MOCK_AUTHORIZE}">
    ${hidden}
    <label>Email <input name="email" type="email" required autofocus></label>
    <button type="submit">Sign in</button>
  </form>
</body>
</html>`
}

export async function startOidcStandin(options: { port?: number; host?: string } = {}): Promise<OidcStandin> {
  const host = options.host ?? '127.0.0.1'
  const server = new OAuth2Server(undefined, undefined, { endpoints: { authorize: MOCK_AUTHORIZE } })
  await server.issuer.keys.generate('RS256')
  const emailByCode = new Map<string, string>()

  server.service.addRoute('GET', '/authorize', (req: IncomingMessage, res: ServerResponse) => {
    const query = new URL(req.url ?? '/', 'http://standin').searchParams
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
    res.end(signInPage(query))
  })
  server.service.on('beforeWellKnownOpenIdConfiguration', (response: { body: Record<string, unknown> }) => {
    response.body.authorization_endpoint = `${server.issuer.url}/authorize`
    // The mock accepts any client authentication; advertise what Google does.
    response.body.token_endpoint_auth_methods_supported = ['client_secret_post', 'client_secret_basic']
    response.body.scopes_supported = ['openid', 'email', 'profile']
  })
  server.service.on('beforeAuthorizeRedirect', (redirect: { url: URL }, req: IncomingMessage & { query?: Record<string, unknown> }) => {
    const email = typeof req.query?.email === 'string' ? req.query.email.trim().toLowerCase() : ''
    const code = redirect.url.searchParams.get('code')
    if (!email || !code) {
      redirect.url.searchParams.delete('code')
      redirect.url.searchParams.set('error', 'access_denied')
      return
    }
    emailByCode.set(code, email)
  })
  server.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }, req: IncomingMessage & { body?: Record<string, unknown> }) => {
    const code = typeof req.body?.code === 'string' ? req.body.code : undefined
    const email = code ? emailByCode.get(code) : undefined
    if (!email) return
    Object.assign(token.payload, { sub: subForEmail(email), email, email_verified: isVerified(email), name: email.split('@')[0] })
  })
  server.service.on('beforeResponse', (_response: unknown, req: IncomingMessage & { body?: Record<string, unknown> }) => {
    if (typeof req.body?.code === 'string') emailByCode.delete(req.body.code) // a code is good for one exchange
  })

  await server.start(options.port ?? 0, host)
  const port = server.address().port
  // The issuer is exactly the URL the Worker is configured with (OIDC_ISSUER): discovery must name the same one.
  const url = `http://${host}:${port}`
  server.issuer.url = url
  return { url, port, close: () => server.stop() }
}
