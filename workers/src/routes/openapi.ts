// GET /openapi.json (the OpenAPI 3.1 document, built once per isolate) and GET /docs (an API reference page:
// Scalar's standalone bundle, self-hosted under public/docs/ and read through the ASSETS binding, no CDN).
// CSP as strict as Scalar allows: scripts only from here, no inline script; the <style> Scalar injects carries the
// per-response nonce it reads from <meta property="csp-nonce">, two fixed ones are admitted by hash; only inline
// style *attributes* are allowed (see docsCsp).
import { Hono } from 'hono'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'
import { openApiJson } from '../openapi/document.ts'

/** Fonts, the request proxy, telemetry and the AI agent would call scalar.com: off (connect-src 'self' would refuse them anyway); the developer toolbar (deploy, SDK) is Scalar's product, not ours. */
const SCALAR_CONFIG = { url: '/openapi.json', withDefaultFonts: false, proxyUrl: '', telemetry: false, showDeveloperTools: 'never', agent: { disabled: true } }

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

/**
 * Two <style> elements Scalar 1.76.4 renders without the nonce (vue-sonner's toast CSS, the default theme's
 * variables): their content is fixed by the bundle and SCALAR_CONFIG, so their hashes admit exactly them. Found
 * with headless Chromium's CSP reports on /docs under `npm run dev`; re-check after changing Scalar (public/README.md).
 */
const SCALAR_STYLE_HASHES = ["'sha256-l/2OpPg0d+2VLTLgwjf5mQo2CYwHDEqdj5TjbfEyVJI='", "'sha256-T13Uev3xCax2N28XaoAE8DOzQZKvPp7ZQVAi1iRREjo='"]

/**
 * style-src-attr 'unsafe-inline': Vue sets element styles (positions, sizes) through style.cssText, which CSP
 * treats as inline style attributes; no script can run from one, and img-src/font-src/connect-src keep any url()
 * on this origin. Scripts and style elements stay nonce/hash/'self' only.
 */
export const docsCsp = (nonce: string) =>
  [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}' ${SCALAR_STYLE_HASHES.join(' ')}`,
    "style-src-attr 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ')

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' }

export const openApi = new Hono<AppEnv>()
  .get('/openapi.json', (c) =>
    c.body(openApiJson(), 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache', ...SECURITY_HEADERS }),
  )
  .get('/docs', (c) => {
    const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))))
    return c.body(docsPage(nonce), 200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': docsCsp(nonce),
      ...SECURITY_HEADERS,
    })
  })
  .get('/docs/scalar.js', async (c) => {
    // The request's own headers go along, so If-None-Match gets its 304 from the assets store.
    const asset = await c.env.ASSETS.fetch(new Request(new URL('/docs/scalar.js', c.req.url), { headers: c.req.raw.headers }))
    if (asset.status !== 200 && asset.status !== 304) throw new ApiError('not_found', 'Unknown route.', { code: 'unknown_route' })
    const headers = new Headers(asset.headers)
    for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }))
      headers.set(name, value)
    return new Response(asset.body, { status: asset.status, headers })
  })
