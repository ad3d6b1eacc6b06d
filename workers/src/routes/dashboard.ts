// /dashboard: the console. Sign-in routes (routes/console/sign-in.ts), the JSON API under /dashboard/api (session
// cookie, CSRF on writes, authorization per route: routes/console/*-api.ts), and the browser app itself: static
// files from Workers Static Assets (public/dashboard/, headers from public/_headers), with index.html for any
// client-side route. The admin token is never involved: /admin keeps its own bearer auth.
import { Hono } from 'hono'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'
import { billingApi } from './console/billing-api.ts'
import { consoleSession, csrfCheck } from './console/console-auth.ts'
import { fleetPriceApi } from './console/fleet-price-api.ts'
import { operatorApi } from './console/operator-api.ts'
import { signIn } from './console/sign-in.ts'
import { tenantApi } from './console/tenant-api.ts'

/**
 * Applied to the app's files when the asset answer lacks them (public/_headers sets them for /dashboard/*; this
 * keeps a stripped or missing rule from serving the console without a CSP): nothing inline, everything same-origin.
 */
const SHELL_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

const unknownRoute = () => new ApiError('not_found', 'Unknown route.', { code: 'unknown_route' })

const consoleApi = new Hono<AppEnv>()
  .use(consoleSession(), csrfCheck())
  .route('/', tenantApi)
  .route('/', billingApi)
  .route('/', operatorApi)
  .route('/', fleetPriceApi)
  .all('*', () => {
    throw unknownRoute()
  })

/** The app's file for this path, or index.html for a client-side route (a path whose last segment has no dot). */
async function appFile(env: Env, request: Request): Promise<Response> {
  const url = new URL(request.url)
  let asset = await env.ASSETS.fetch(new Request(url, { headers: request.headers }))
  if (asset.status === 404 && !url.pathname.split('/').pop()?.includes('.')) {
    asset = await env.ASSETS.fetch(new Request(new URL('/dashboard/', url), { headers: request.headers }))
  }
  if (asset.status === 404) throw unknownRoute()
  const headers = new Headers(asset.headers)
  for (const [name, value] of Object.entries(SHELL_HEADERS)) if (!headers.has(name)) headers.set(name, value)
  return new Response(asset.body, { status: asset.status, headers })
}

export const dashboard = new Hono<AppEnv>()
  .route('/', signIn)
  .route('/dashboard/api', consoleApi)
  .get('/dashboard', (c) => appFile(c.env, c.req.raw))
  .get('/dashboard/*', (c) => appFile(c.env, c.req.raw))
