// GET /openapi.json (the OpenAPI 3.1 document, built once per isolate) and GET /docs (an API reference page:
// Scalar's standalone bundle, self-hosted under public/docs/ and read through the ASSETS binding, no CDN).
// CSP as strict as Scalar allows: its script only from here, no inline script; its one injected <style> carries
// the per-response nonce it reads from <meta property="csp-nonce"> (no 'unsafe-inline').
import { Hono } from 'hono'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'
import { openApiJson } from '../openapi/document.ts'

/** Fonts, the request proxy and telemetry would call scalar.com: off (and connect-src 'self' would refuse them). */
const SCALAR_CONFIG = { url: '/openapi.json', withDefaultFonts: false, proxyUrl: '', telemetry: false }

const escapeAttribute = (text: string) => text.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;')

function docsPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="csp-nonce" content="${nonce}">
<title>CIC API reference</title>
</head>
<body>
<script id="api-reference" data-url="/openapi.json" data-configuration="${escapeAttribute(JSON.stringify(SCALAR_CONFIG))}"></script>
<script src="/docs/scalar.js"></script>
</body>
</html>
`
}

export const docsCsp = (nonce: string) => [
  "default-src 'none'", "script-src 'self'", `style-src 'self' 'nonce-${nonce}'`, "connect-src 'self'",
  "img-src 'self' data:", "font-src 'self' data:", "form-action 'none'", "frame-ancestors 'none'", "base-uri 'none'",
].join('; ')

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' }

export const openApi = new Hono<AppEnv>()
  .get('/openapi.json', (c) => c.body(openApiJson(), 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache', ...SECURITY_HEADERS }))
  .get('/docs', (c) => {
    const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))))
    return c.body(docsPage(nonce), 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': docsCsp(nonce), ...SECURITY_HEADERS })
  })
  .get('/docs/scalar.js', async (c) => {
    // The request's own headers go along, so If-None-Match gets its 304 from the assets store.
    const asset = await c.env.ASSETS.fetch(new Request(new URL('/docs/scalar.js', c.req.url), { headers: c.req.raw.headers }))
    if (asset.status !== 200 && asset.status !== 304) throw new ApiError('not_found', 'Unknown route.', { code: 'unknown_route' })
    const headers = new Headers(asset.headers)
    for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' })) headers.set(name, value)
    return new Response(asset.body, { status: asset.status, headers })
  })
