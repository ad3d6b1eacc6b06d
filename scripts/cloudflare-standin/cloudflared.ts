#!/usr/bin/env node
// cloudflared stand-in, run on a stand-in node instead of the real connector:
//   cloudflared.ts tunnel [--no-autoupdate] [--metrics HOST:PORT] run [--token TOKEN]   (TOKEN also from TUNNEL_TOKEN)
// It opens an outbound connection to the edge (CLOUDFLARED_STANDIN_EDGE, the stand-in's edge URL) with the tunnel
// token, receives the tunnel's remote configuration on it, and serves what the edge sends through its ingress
// rules: `http://localhost:PORT` services go to this "machine's" localhost, mapped by CLOUDFLARED_STANDIN_LOCALHOST
// (`8000=54321,...`: many stand-in nodes share one real machine), `http_status:NNN` answers NNN. It reconnects
// every second while the edge refuses or drops it, like cloudflared; it never listens on anything but 127.0.0.1.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { IngressRule, TunnelConfig } from './state.ts'

const args = process.argv.slice(2)
const tokenAt = args.indexOf('--token')
const token = tokenAt >= 0 ? args[tokenAt + 1] : process.env.TUNNEL_TOKEN
if (args[0] !== 'tunnel' || !args.includes('run') || !token) {
  process.stderr.write('usage: cloudflared tunnel [--no-autoupdate] run [--token TOKEN] (or TUNNEL_TOKEN)\n')
  process.exit(2)
}
const edge = process.env.CLOUDFLARED_STANDIN_EDGE
if (!edge) {
  process.stderr.write('cloudflared stand-in: CLOUDFLARED_STANDIN_EDGE (the edge URL) is not set\n')
  process.exit(2)
}
const localhostPorts = new Map(
  (process.env.CLOUDFLARED_STANDIN_LOCALHOST ?? '')
    .split(',')
    .filter(Boolean)
    .map((pair) => pair.split('=').map(Number) as [number, number]),
)

let config: TunnelConfig | null = null
let isConnected = false

// --metrics: cloudflared's metrics server; its `/ready` answers 200 while a connection to the edge is up, else 503.
const metricsAt = args.indexOf('--metrics')
const metrics = metricsAt >= 0 ? /^(127\.0\.0\.1|localhost):(\d+)$/.exec(args[metricsAt + 1] ?? '') : null
if (metricsAt >= 0 && !metrics) {
  process.stderr.write('cloudflared stand-in: --metrics must be 127.0.0.1:PORT\n')
  process.exit(2)
}
if (metrics)
  createServer((req, res) => {
    if (req.url === '/ready')
      res.writeHead(isConnected ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: isConnected ? 200 : 503 }))
    else res.writeHead(404).end()
  }).listen(Number(metrics[2]), '127.0.0.1')

function pickRule(req: IncomingMessage): IngressRule | undefined {
  const host = (req.headers.host ?? '').toLowerCase()
  return config?.ingress?.find((r) => (!r.hostname || r.hostname.toLowerCase() === host) && (!r.path || new RegExp(r.path).test(req.url ?? '/')))
}

function serve(req: IncomingMessage, res: ServerResponse): void {
  const rule = pickRule(req)
  const status = /^http_status:(\d{3})$/.exec(rule?.service ?? '')
  if (!rule || status) {
    req.resume()
    res.writeHead(status ? Number(status[1]) : 503).end()
    return
  }
  // originRequest.access.required: cloudflared refuses a request without a valid Access JWT for one of the AUD
  // tags (the stand-in edge's JWT is `standin.<aud>.<random>`; real cloudflared verifies the signed token).
  const access = rule.originRequest?.access as { required?: boolean; audTag?: string[] } | undefined
  if (access?.required) {
    const jwt = String(req.headers['cf-access-jwt-assertion'] ?? '')
    if (!(access.audTag ?? []).some((aud) => jwt.startsWith(`standin.${aud}.`))) {
      req.resume()
      res.writeHead(403).end('cloudflared stand-in: no valid Access token for this application\n')
      return
    }
  }
  const origin = new URL(rule.service)
  const isLocal = origin.hostname === 'localhost' || origin.hostname === '127.0.0.1'
  const port = Number(origin.port || 80)
  if (!isLocal || origin.protocol !== 'http:') {
    req.resume()
    res.writeHead(502).end(`cloudflared stand-in: only http://localhost services are supported, not ${rule.service}\n`)
    return
  }
  const upstream = httpRequest(
    { host: '127.0.0.1', port: localhostPorts.get(port) ?? port, path: req.url, method: req.method, headers: { ...req.headers, host: origin.host } },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    },
  )
  upstream.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502).end(`Unable to reach the origin service: ${err.message}\n`)
    else res.destroy()
  })
  res.on('close', () => upstream.destroy())
  req.pipe(upstream)
}

const server = createServer(serve)
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const connectorUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

function connect(): void {
  const req = httpRequest(`${edge}/cdn-cgi/tunnel/connect`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  })
  const retry = () => setTimeout(connect, 1_000)
  req.on('response', (res) => {
    if (res.statusCode !== 200) {
      process.stderr.write(`cloudflared stand-in: the edge refused the tunnel (HTTP ${res.statusCode}); retrying\n`)
      res.resume()
      return retry()
    }
    let buffered = ''
    isConnected = true
    res.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        const update = JSON.parse(line) as { config: TunnelConfig | null; config_version: number }
        config = update.config
        process.stdout.write(`cloudflared stand-in: connected, configuration version ${update.config_version}\n`)
      }
    })
    res.on('close', () => {
      isConnected = false
      process.stderr.write('cloudflared stand-in: connection to the edge lost; reconnecting\n')
      retry()
    })
  })
  req.on('error', (err) => {
    process.stderr.write(`cloudflared stand-in: cannot reach the edge: ${err.message}\n`)
    retry()
  })
  req.end(JSON.stringify({ connector_url: connectorUrl, version: 'standin' }))
}
connect()
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0))
