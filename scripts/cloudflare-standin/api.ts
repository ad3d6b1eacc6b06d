// Cloudflare's v4 API, the part the runner uses, over one Account: Tunnels (cfd_tunnel, its remote configuration,
// token and connections), DNS records of the nodes zone, Access applications with inline policies, and Access
// service tokens. Paths, methods, bodies and the `{success, errors, messages, result}` envelope follow
// cloudflare/cloudflare-typescript (src/resources/zero-trust/tunnels/cloudflared/*, dns/records.ts,
// zero-trust/access/applications/applications.ts, zero-trust/access/service-tokens.ts) and the API docs'
// examples; each API token carries the permission groups it was given and is refused (403) outside them.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomBytes, randomUUID } from 'node:crypto'
import {
  type Account,
  type AccessApp,
  type AccessPolicy,
  type DnsRecord,
  hexId,
  newTunnel,
  now,
  type ServiceToken,
  type Tunnel,
  type TunnelConfig,
  tunnelStatus,
  tunnelToken,
} from './state.ts'

/** Permission groups, named as on developers.cloudflare.com/fundamentals/api/reference/permissions/ ("Edit" is now "Write"). */
export const PERMISSIONS = {
  tunnel: 'Cloudflare Tunnel Write',
  accessApps: 'Access: Apps and Policies Write',
  serviceTokens: 'Access: Service Tokens Write',
  dns: 'DNS Write',
} as const
export type Permission = (typeof PERMISSIONS)[keyof typeof PERMISSIONS]

/** An API token: its permission groups, and for zone permissions the zones it covers. */
export type ApiToken = { value: string; permissions: Permission[]; zones?: string[] }

type ApiError = { code: number; message: string }
type Result = { status: number; body: Record<string, unknown> }

const ok = (result: unknown, extra: Record<string, unknown> = {}): Result => ({
  status: 200,
  body: { success: true, errors: [], messages: [], result, ...extra },
})
const fail = (status: number, ...errors: ApiError[]): Result => ({ status, body: { success: false, errors, messages: [], result: null } })

// Codes Cloudflare documents or returns for these cases where known (6003/6111 malformed auth, 10000 auth error,
// 81044 record missing, 81053 host taken); the rest are the stand-in's own choice, marked so in README.md.
const ERR = {
  badAuthHeader: fail(400, { code: 6003, message: 'Invalid request headers' }),
  badToken: fail(403, { code: 9109, message: 'Invalid access token' }),
  forbidden: fail(403, { code: 10000, message: 'Authentication error' }),
  notFound: (what: string) => fail(404, { code: 1003, message: `${what} not found` }),
  badBody: (message: string) => fail(400, { code: 1001, message }),
}

const tunnelJson = (account: Account, t: Tunnel, withSecrets = false) => ({
  id: t.id,
  account_tag: account.accountId,
  created_at: t.createdAt,
  deleted_at: t.deletedAt,
  name: t.name,
  connections: [],
  conns_active_at: t.connsActiveAt,
  conns_inactive_at: t.connectors.length > 0 ? null : t.connsInactiveAt,
  tun_type: 'cfd_tunnel',
  metadata: {},
  status: tunnelStatus(t),
  remote_config: t.configSrc === 'cloudflare',
  config_src: t.configSrc,
  ...(withSecrets
    ? {
        credentials_file: { AccountTag: account.accountId, TunnelID: t.id, TunnelName: t.name, TunnelSecret: t.secret },
        token: tunnelToken(account.accountId, t),
      }
    : {}),
})

const recordJson = (account: Account, r: DnsRecord) => ({
  id: r.id,
  zone_id: account.zoneId,
  zone_name: account.zoneName,
  name: r.name,
  type: r.type,
  content: r.content,
  proxiable: true,
  proxied: r.proxied,
  ttl: r.ttl,
  settings: {},
  meta: {},
  comment: r.comment,
  tags: r.tags,
  created_on: r.createdOn,
  modified_on: r.modifiedOn,
})

const policyJson = (p: AccessPolicy) => ({
  id: p.id,
  name: p.name,
  decision: p.decision,
  include: p.include,
  exclude: p.exclude,
  require: p.require,
  precedence: p.precedence,
  created_at: p.createdAt,
  updated_at: p.updatedAt,
})

const appJson = (a: AccessApp) => ({
  id: a.id,
  aud: a.aud,
  name: a.name,
  domain: a.domain,
  self_hosted_domains: [a.domain],
  destinations: [{ type: 'public', uri: a.domain }],
  type: a.type,
  session_duration: a.sessionDuration,
  policies: a.policies.map(policyJson),
  created_at: a.createdAt,
  updated_at: a.updatedAt,
})

const tokenJson = (s: ServiceToken, withSecret: boolean) => ({
  id: s.id,
  name: s.name,
  client_id: s.clientId,
  ...(withSecret ? { client_secret: s.clientSecret } : {}),
  duration: s.duration,
  created_at: s.createdAt,
  updated_at: s.createdAt,
})

/** V4PagePaginationArray: `page` (1-based) and `per_page` in the query, `result_info` in the answer. */
function paged<T>(items: T[], query: URLSearchParams): Result {
  const perPage = Math.min(Math.max(Number(query.get('per_page') ?? 20) || 20, 5), 1000)
  const page = Math.max(Number(query.get('page') ?? 1) || 1, 1)
  const slice = items.slice((page - 1) * perPage, page * perPage)
  return ok(slice, { result_info: { page, per_page: perPage, count: slice.length, total_count: items.length, total_pages: Math.ceil(items.length / perPage) } })
}

type Body = Record<string, unknown>
const str = (v: unknown) => (typeof v === 'string' ? v : undefined)

function createTunnel(account: Account, body: Body): Result {
  const name = str(body.name)
  if (!name) return ERR.badBody('name is required')
  const configSrc = body.config_src === 'cloudflare' ? 'cloudflare' : 'local'
  if ([...account.tunnels.values()].some((t) => t.deletedAt === null && t.name === name))
    return fail(409, { code: 1013, message: 'You already have a tunnel with this name.' })
  const tunnel = newTunnel(name, configSrc, str(body.tunnel_secret))
  account.tunnels.set(tunnel.id, tunnel)
  return ok(tunnelJson(account, tunnel, true))
}

function listTunnels(account: Account, query: URLSearchParams): Result {
  const name = query.get('name')
  const uuid = query.get('uuid')
  const isDeleted = query.get('is_deleted')
  const items = [...account.tunnels.values()].filter(
    (t) => (name === null || t.name === name) && (uuid === null || t.id === uuid) && (isDeleted === null || (isDeleted === 'true') === (t.deletedAt !== null)),
  )
  return paged(
    items.map((t) => tunnelJson(account, t)),
    query,
  )
}

function putConfiguration(account: Account, tunnel: Tunnel, body: Body): Result {
  const config = body.config as TunnelConfig | undefined
  const ingress = config?.ingress
  if (!Array.isArray(ingress) || ingress.length === 0) return ERR.badBody('config.ingress must have at least one rule')
  // cloudflared's rule: the last ingress rule must match every request (no hostname, no path).
  const last = ingress[ingress.length - 1]
  if (last?.hostname || last?.path) return ERR.badBody('The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)')
  if (ingress.some((r) => typeof r.service !== 'string')) return ERR.badBody('every ingress rule needs a service')
  tunnel.config = config as TunnelConfig
  tunnel.configSrc = 'cloudflare'
  tunnel.configVersion += 1
  return ok({
    tunnel_id: tunnel.id,
    account_id: account.accountId,
    version: tunnel.configVersion,
    config: tunnel.config,
    source: 'cloudflare',
    created_at: now(),
  })
}

function tunnelRoutes(account: Account, method: string, rest: string[], query: URLSearchParams, body: Body): Result | null {
  if (rest.length === 0) {
    if (method === 'POST') return createTunnel(account, body)
    if (method === 'GET') return listTunnels(account, query)
    return null
  }
  const tunnel = account.tunnels.get(rest[0] as string)
  if (!tunnel) return ERR.notFound('Tunnel')
  const [, sub] = rest
  if (sub === undefined) {
    if (method === 'GET') return ok(tunnelJson(account, tunnel))
    if (method === 'DELETE') {
      if (tunnel.deletedAt !== null) return ERR.notFound('Tunnel')
      if (tunnel.connectors.length > 0) return fail(400, { code: 1022, message: 'Cannot delete tunnel because it has active connections' })
      tunnel.deletedAt = now()
      return ok(tunnelJson(account, tunnel))
    }
    return null
  }
  if (tunnel.deletedAt !== null) return ERR.notFound('Tunnel')
  if (sub === 'token' && method === 'GET') return ok(tunnelToken(account.accountId, tunnel))
  if (sub === 'configurations') {
    if (method === 'PUT') return putConfiguration(account, tunnel, body)
    if (method === 'GET')
      return ok({ tunnel_id: tunnel.id, account_id: account.accountId, version: tunnel.configVersion, config: tunnel.config, source: tunnel.configSrc })
  }
  if (sub === 'connections') {
    if (method === 'GET')
      return ok(
        tunnel.connectors.map((c) => ({
          id: c.clientId,
          run_at: c.openedAt,
          version: c.version,
          config_version: tunnel.configVersion,
          conns: [{ id: c.connId, client_id: c.clientId, client_version: c.version, colo_name: 'LOCAL', opened_at: c.openedAt, origin_ip: c.originIp }],
        })),
      )
    if (method === 'DELETE') {
      const clientId = query.get('client_id')
      const dropped = tunnel.connectors.filter((c) => clientId === null || c.clientId === clientId)
      for (const c of dropped) disconnect(tunnel, c)
      return ok(null)
    }
  }
  return null
}

/** Drops a connector (the edge stops routing to it); callers that own its socket close it. */
export function disconnect(tunnel: Tunnel, connector: { clientId: string }): void {
  tunnel.connectors = tunnel.connectors.filter((c) => c.clientId !== connector.clientId)
  if (tunnel.connectors.length === 0) tunnel.connsInactiveAt = now()
  onDisconnect.get(tunnel.id)?.(connector.clientId)
}
/** The edge registers here to hear of connectors removed through the API (it then closes their connection). */
export const onDisconnect = new Map<string, (clientId: string) => void>()

const POLICY_DECISIONS = new Set(['allow', 'deny', 'non_identity', 'bypass'])

function inZone(account: Account, host: string): boolean {
  return host === account.zoneName || host.endsWith(`.${account.zoneName}`)
}

function createAccessApp(account: Account, body: Body): Result {
  const domain = str(body.domain)?.toLowerCase()
  const type = str(body.type)
  if (!domain || !type) return ERR.badBody('domain and type are required')
  if (type !== 'self_hosted') return ERR.badBody(`the stand-in supports type self_hosted only, not ${type}`)
  if (!inZone(account, domain.split('/')[0] as string)) return fail(400, { code: 12130, message: `domain ${domain} is not in a zone of this account` })
  if ([...account.accessApps.values()].some((a) => a.domain === domain))
    return fail(400, { code: 12130, message: 'An Access application with this domain already exists' })
  const policies: AccessPolicy[] = []
  const given = Array.isArray(body.policies) ? (body.policies as unknown[]) : []
  for (const [i, p] of given.entries()) {
    // Items may link reusable policies ({id, precedence} or a uuid); the stand-in keeps only inline ones.
    if (typeof p !== 'object' || p === null || !('decision' in p))
      return ERR.badBody('the stand-in supports inline policies only (decision, include, ...), not links to reusable ones')
    const q = p as Record<string, unknown>
    if (!POLICY_DECISIONS.has(String(q.decision))) return ERR.badBody(`policies[${i}].decision must be allow, deny, non_identity or bypass`)
    if (!Array.isArray(q.include) || q.include.length === 0) return ERR.badBody(`policies[${i}].include must have at least one rule`)
    const at = now()
    policies.push({
      id: randomUUID(),
      name: str(q.name) ?? `policy ${i + 1}`,
      decision: q.decision as AccessPolicy['decision'],
      include: q.include as AccessPolicy['include'],
      exclude: Array.isArray(q.exclude) ? (q.exclude as AccessPolicy['exclude']) : [],
      require: Array.isArray(q.require) ? (q.require as AccessPolicy['require']) : [],
      precedence: typeof q.precedence === 'number' ? q.precedence : i + 1,
      createdAt: at,
      updatedAt: at,
    })
  }
  const at = now()
  const app: AccessApp = {
    id: randomUUID(),
    aud: randomBytes(32).toString('hex'),
    name: str(body.name) ?? domain,
    domain,
    type,
    sessionDuration: str(body.session_duration) ?? '24h',
    policies,
    createdAt: at,
    updatedAt: at,
  }
  account.accessApps.set(app.id, app)
  return { status: 201, body: ok(appJson(app)).body }
}

function accessRoutes(account: Account, method: string, rest: string[], query: URLSearchParams, body: Body): Result | null {
  const [kind, id, extra] = rest
  if (kind === 'apps') {
    if (id === undefined && method === 'POST') return createAccessApp(account, body)
    if (id === undefined && method === 'GET') {
      const name = query.get('name')
      const domain = query.get('domain')
      const items = [...account.accessApps.values()].filter((a) => (name === null || a.name === name) && (domain === null || a.domain === domain))
      return paged(items.map(appJson), query)
    }
    const app = id ? account.accessApps.get(id) : undefined
    if (!app || extra !== undefined) return ERR.notFound('Access application')
    if (method === 'GET') return ok(appJson(app))
    if (method === 'DELETE') {
      account.accessApps.delete(app.id)
      return ok({ id: app.id })
    }
  }
  if (kind === 'service_tokens') {
    if (id === undefined && method === 'POST') {
      const name = str(body.name)
      if (!name) return ERR.badBody('name is required')
      const token = createServiceToken(account, name)
      return { status: 201, body: ok(tokenJson(token, true)).body }
    }
    if (id === undefined && method === 'GET')
      return paged(
        [...account.serviceTokens.values()].map((s) => tokenJson(s, false)),
        query,
      )
  }
  return null
}

export function createServiceToken(account: Account, name: string, fixed?: { clientId: string; clientSecret: string }): ServiceToken {
  const token: ServiceToken = {
    id: randomUUID(),
    name,
    clientId: fixed?.clientId ?? `${hexId()}.access`,
    clientSecret: fixed?.clientSecret ?? randomBytes(32).toString('hex'),
    createdAt: now(),
    duration: '8760h',
  }
  account.serviceTokens.set(token.id, token)
  return token
}

function fqdn(account: Account, name: string): string {
  const lower = name.toLowerCase().replace(/\.$/, '')
  if (lower === '@') return account.zoneName
  return inZone(account, lower) ? lower : `${lower}.${account.zoneName}`
}

function dnsRoutes(account: Account, method: string, rest: string[], query: URLSearchParams, body: Body): Result | null {
  const [id] = rest
  if (id === undefined && method === 'POST') {
    const type = str(body.type)
    const name = str(body.name)
    const content = str(body.content)
    if (!type || !name || !content) return ERR.badBody('type, name and content are required')
    const full = fqdn(account, name)
    const clash = [...account.dnsRecords.values()].some((r) => r.name === full && (type === 'CNAME' || r.type === 'CNAME'))
    if (clash) return fail(400, { code: 81053, message: 'An A, AAAA, or CNAME record with that host already exists.' })
    const at = now()
    const record: DnsRecord = {
      id: hexId(),
      name: full,
      type,
      content,
      proxied: body.proxied === true,
      ttl: typeof body.ttl === 'number' ? body.ttl : 1,
      comment: str(body.comment) ?? null,
      tags: Array.isArray(body.tags) ? body.tags.filter((t): t is string => typeof t === 'string') : [],
      createdOn: at,
      modifiedOn: at,
    }
    account.dnsRecords.set(record.id, record)
    return ok(recordJson(account, record))
  }
  if (id === undefined && method === 'GET') {
    // `name` filter: `name.exact` (the current API) or the older plain `name`; both exact, case-insensitive.
    const name = query.get('name.exact') ?? query.get('name')
    const type = query.get('type')
    const content = query.get('content.exact') ?? query.get('content')
    const items = [...account.dnsRecords.values()].filter(
      (r) =>
        (name === null || r.name === fqdn(account, name)) &&
        (type === null || r.type === type) &&
        (content === null || r.content.toLowerCase() === content.toLowerCase()),
    )
    return paged(
      items.map((r) => recordJson(account, r)),
      query,
    )
  }
  const record = id ? account.dnsRecords.get(id) : undefined
  if (!record) return fail(404, { code: 81044, message: 'Record does not exist.' })
  if (method === 'GET') return ok(recordJson(account, record))
  if (method === 'DELETE') {
    account.dnsRecords.delete(record.id)
    return ok({ id: record.id })
  }
  return null
}

export type ApiCall = { method: string; path: string; at: number; status: number }

/** Routes one v4 API request (path after `/client/v4`). */
export function handleApi(account: Account, tokens: ApiToken[], method: string, url: URL, authorization: string | undefined, body: Body): Result {
  const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization ?? '')
  if (!match) return ERR.badAuthHeader
  const token = tokens.find((t) => t.value === match[1])
  if (!token) return ERR.badToken
  const parts = url.pathname
    .replace(/^\/client\/v4\/?/, '')
    .split('/')
    .filter(Boolean)
  const [scope, scopeId, area, ...rest] = parts
  const can = (p: Permission) => token.permissions.includes(p)
  let result: Result | null = null
  if (scope === 'accounts') {
    if (scopeId !== account.accountId) return ERR.forbidden
    if (area === 'cfd_tunnel') result = can(PERMISSIONS.tunnel) ? tunnelRoutes(account, method, rest, url.searchParams, body) : ERR.forbidden
    else if (area === 'access' && rest[0] === 'apps')
      result = can(PERMISSIONS.accessApps) ? accessRoutes(account, method, rest, url.searchParams, body) : ERR.forbidden
    else if (area === 'access' && rest[0] === 'service_tokens')
      result = can(PERMISSIONS.serviceTokens) ? accessRoutes(account, method, rest, url.searchParams, body) : ERR.forbidden
  } else if (scope === 'zones' && area === 'dns_records') {
    // Zone permissions cover only the zones the token lists ("any other zone will return an error").
    if (scopeId !== account.zoneId || !can(PERMISSIONS.dns) || !(token.zones ?? []).includes(account.zoneId)) return ERR.forbidden
    result = dnsRoutes(account, method, rest, url.searchParams, body)
  }
  return result ?? fail(404, { code: 7003, message: `No route for that URI (${method} ${url.pathname})` })
}

export async function readJson(req: IncomingMessage): Promise<Body | null> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  if (!text) return {}
  try {
    const parsed = JSON.parse(text) as unknown
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Body) : null
  } catch {
    return null
  }
}

export function send(res: ServerResponse, result: Result): void {
  res.writeHead(result.status, { 'content-type': 'application/json' }).end(JSON.stringify(result.body))
}
