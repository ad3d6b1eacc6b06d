// /dashboard serves the browser app from Workers Static Assets (public/dashboard/, built by the console-UI
// branch): the shell for the console's own paths and any client-side route, its files as they are, security
// headers on every answer, and a 404 for a missing file rather than the shell.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { Browser } from './console-browser.ts'

/** public/dashboard/index.html comes from the console-UI branch (i17-ui); until it is merged there is no shell. */
const hasShell = (await env.ASSETS.fetch('http://assets.test/dashboard/')).status === 200

describe('the console app shell', () => {
  it.skipIf(!hasShell)('serves index.html for /dashboard, /dashboard/ and client-side routes, with a same-origin CSP', async () => {
    const b = new Browser()
    for (const path of ['/dashboard', '/dashboard/', '/dashboard/tenants/ten_abc', '/dashboard/nodes']) {
      const res = await b.fetch(path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/)
      const csp = res.headers.get('content-security-policy') ?? ''
      expect(csp).toContain("script-src 'self'")
      expect(csp).not.toContain('unsafe-inline')
      expect(csp).toContain("frame-ancestors 'none'")
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(await res.text()).toMatch(/<html/)
    }
  })

  it.skipIf(!hasShell)('serves the app’s files as themselves, and 404s a missing file instead of the shell', async () => {
    const shell = await (await new Browser().fetch('/dashboard/')).text()
    const script = /<script type="module" src="([^"]+)"/.exec(shell)?.[1]
    expect(script).toMatch(/^\/dashboard\//)
    const res = await new Browser().fetch(script ?? '')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/javascript/)
    const missing = await new Browser().fetch('/dashboard/assets/nope.js')
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: { code: 'unknown_route' } })
  })

  it('keeps /dashboard/api and the sign-in routes out of the static files', async () => {
    expect((await new Browser().fetch('/dashboard/api/nope')).status).toBe(401) // the API, signed out
    expect((await new Browser().fetch('/dashboard/login')).status).toBe(302)
  })
})
