// GET /dashboard (+ its script and stylesheet): the operator dashboard. The files hold no data and need no
// token; the page asks for the admin token and reads the admin API with it. A strict CSP allows only these
// same-origin files and same-origin API calls, so no injected script could run or send data elsewhere.
import { Hono } from 'hono'
import type { AppEnv } from '../env.ts'
import { DASHBOARD_CSS, DASHBOARD_HTML } from '../dashboard/page.ts'
import { DASHBOARD_JS } from '../dashboard/script.ts'

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
}

const file = (body: string, contentType: string) => () => new Response(body, { headers: { ...SECURITY_HEADERS, 'content-type': contentType } })

export const dashboard = new Hono<AppEnv>()
  .get('/dashboard', file(DASHBOARD_HTML, 'text/html; charset=utf-8'))
  .get('/dashboard/app.js', file(DASHBOARD_JS, 'text/javascript; charset=utf-8'))
  .get('/dashboard/app.css', file(DASHBOARD_CSS, 'text/css; charset=utf-8'))
