// The stand-in's edge: what Cloudflare does with a request for a proxied hostname of the nodes zone. Locally the
// hostname is the first path segment (`http://127.0.0.1:<edge port>/<hostname>/v1/...`), because workerd cannot
// resolve the zone's names. In order: the DNS record must exist and be a proxied CNAME to `<tunnel>.cfargotunnel.com`;
// the hostname's Access application must admit the request (a service token its policy names, in
// CF-Access-Client-Id/-Secret; else Access's 403, and the request never reaches the tunnel); the tunnel must have a
// connector (else 530, error 1033). The request then goes to the connector with the Access headers replaced by a
// `Cf-Access-Jwt-Assertion`, as Cloudflare does. Connectors (cloudflared) hold an outbound connection:
// `POST /cdn-cgi/tunnel/connect` with the tunnel token, kept open; its closing is the connector going away.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { randomBytes, randomUUID } from 'node:crypto'
import { disconnect, onDisconnect, readJson } from './api.ts'
import { type Account, type AccessApp, now, parseTunnelToken, type Tunnel } from './state.ts'

export type EdgeEvent = { hostname: string; outcome: 'forwarded' | 'access_denied' | 'no_connector' | 'no_dns' | 'connector_error'; at: number }

const CFARGOTUNNEL = /^([0-9a-f-]{36})\.cfargotunnel\.com$/

function errorPage(res: ServerResponse, status: number, code: number, title: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=UTF-8', 'cf-ray': randomBytes(8).toString('hex') }).end(`error code: ${code}\n${title}\n`)
}

/** True when one of the app's policies admits the request's service token (decision non_identity) or bypasses Access. */
export function accessAdmits(account: Account, app: AccessApp, clientId: string | undefined, clientSecret: string | undefined): boolean {
  const token = [...account.serviceTokens.values()].find((t) => t.clientId === clientId && t.clientSecret === clientSecret)
  const matches = (rule: Record<string, unknown>) => {
    if ('everyone' in rule) return true
    if ('any_valid_service_token' in rule) return token !== undefined
    const st = rule.service_token as { token_id?: string } | undefined
    return st !== undefined && token !== undefined && st.token_id === token.id
  }
  for (const policy of [...app.policies].sort((a, b) => a.precedence - b.precedence)) {
    if (policy.decision !== 'non_identity' && policy.decision !== 'bypass') continue // identity logins: no browser here
    const included = policy.include.some(matches)
    const excluded = policy.exclude.some(matches)
    const required = policy.require.every(matches)
    if (included && !excluded && required) return true
  }
  return false
}

export function createEdge(account: Account, events: EdgeEvent[]) {
  const live = new Map<string, Map<string, ServerResponse>>() // tunnel id -> client id -> open connect response

  async function connect(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = parseTunnelToken(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '')
    const tunnel = token ? account.tunnels.get(token.t) : undefined
    if (!token || token.a !== account.accountId || !tunnel || tunnel.deletedAt !== null || tunnel.secret !== token.s) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized: Invalid tunnel secret\n')
      return
    }
    const body = await readJson(req)
    const url = typeof body?.connector_url === 'string' ? body.connector_url : ''
    if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('connector_url must be http://127.0.0.1:<port>\n')
      return
    }
    const connector = {
      clientId: randomUUID(),
      connId: randomUUID(),
      openedAt: now(),
      version: typeof body?.version === 'string' ? body.version : 'standin',
      originIp: '127.0.0.1',
      url,
    }
    tunnel.connectors.push(connector)
    tunnel.connsActiveAt = now()
    const conns = live.get(tunnel.id) ?? new Map<string, ServerResponse>()
    live.set(tunnel.id, conns)
    conns.set(connector.clientId, res)
    onDisconnect.set(tunnel.id, (clientId) => {
      const open = live.get(tunnel.id)?.get(clientId)
      live.get(tunnel.id)?.delete(clientId)
      open?.end()
    })
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    res.write(`${JSON.stringify({ client_id: connector.clientId, config_version: tunnel.configVersion, config: tunnel.config })}\n`)
    // The connector is gone when its connection closes (its process died, or the node went away).
    res.on('close', () => {
      if (tunnel.connectors.some((c) => c.clientId === connector.clientId)) disconnect(tunnel, connector)
    })
  }

  /** Pushes a new remote configuration to the tunnel's connectors (cloudflared applies it live). */
  function pushConfig(tunnel: Tunnel): void {
    for (const res of live.get(tunnel.id)?.values() ?? []) res.write(`${JSON.stringify({ config_version: tunnel.configVersion, config: tunnel.config })}\n`)
  }

  function forward(req: IncomingMessage, res: ServerResponse): void {
    const [, hostname = '', ...rest] = (req.url ?? '/').split('/')
    const host = hostname.toLowerCase()
    const path = `/${rest.join('/')}`
    const record = [...account.dnsRecords.values()].find((r) => r.name === host && r.type === 'CNAME')
    const tunnelId = record?.proxied ? CFARGOTUNNEL.exec(record.content)?.[1] : undefined
    const tunnel = tunnelId ? account.tunnels.get(tunnelId) : undefined
    const log = (outcome: EdgeEvent['outcome']) => events.push({ hostname: host, outcome, at: Date.now() })
    if (!record || !tunnel || tunnel.deletedAt !== null) {
      log('no_dns')
      return errorPage(res, 530, 1016, 'Origin DNS error')
    }
    const app = [...account.accessApps.values()].find((a) => a.domain === host || a.domain.startsWith(`${host}/`))
    if (app) {
      const id = req.headers['cf-access-client-id']
      const secret = req.headers['cf-access-client-secret']
      if (!accessAdmits(account, app, typeof id === 'string' ? id : undefined, typeof secret === 'string' ? secret : undefined)) {
        log('access_denied')
        req.resume()
        res.writeHead(403, { 'content-type': 'text/html' }).end("<html><body><h1>Forbidden</h1><p>You don't have permission to view this.</p></body></html>")
        return
      }
    }
    const connector = tunnel.connectors.at(-1)
    if (!connector) {
      log('no_connector')
      req.resume()
      return errorPage(res, 530, 1033, 'Cloudflare Tunnel error')
    }
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host }
    delete headers['cf-access-client-id']
    delete headers['cf-access-client-secret']
    if (app) headers['cf-access-jwt-assertion'] = `standin.${app.aud}.${randomBytes(16).toString('hex')}`
    const upstream = httpRequest(`${connector.url}${path}`, { method: req.method, headers }, (answer) => {
      log('forwarded')
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => {
      log('connector_error')
      if (!res.headersSent) errorPage(res, 502, 1033, 'Cloudflare Tunnel error')
      else res.destroy()
    })
    res.on('close', () => upstream.destroy())
    req.pipe(upstream)
  }

  return {
    handle(req: IncomingMessage, res: ServerResponse): void {
      if (req.method === 'POST' && req.url === '/cdn-cgi/tunnel/connect') void connect(req, res)
      else forward(req, res)
    },
    pushConfig,
    closeAll(): void {
      for (const conns of live.values()) for (const res of conns.values()) res.destroy()
    },
  }
}
