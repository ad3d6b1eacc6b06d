// The Cloudflare stand-in's account: tunnels (with their remote configuration and live connectors), the nodes
// zone's DNS records, Access applications with their policies, and Access service tokens. In memory, one object
// per stand-in; `snapshot()` is what tests read to prove a terminate left nothing behind.
import { randomBytes, randomUUID } from 'node:crypto'

export type IngressRule = { hostname?: string; service: string; path?: string; originRequest?: Record<string, unknown> }
export type TunnelConfig = { ingress?: IngressRule[]; originRequest?: Record<string, unknown> }

/** A connector (the node's cloudflared) holding its outbound connection to the edge. */
export type Connector = { clientId: string; connId: string; openedAt: string; version: string; originIp: string; url: string }

export type Tunnel = {
  id: string
  name: string
  createdAt: string
  deletedAt: string | null
  configSrc: 'local' | 'cloudflare'
  /** base64 of 32 random bytes; part of the tunnel token. */
  secret: string
  config: TunnelConfig | null
  configVersion: number
  connectors: Connector[]
  connsActiveAt: string | null
  connsInactiveAt: string | null
}

export type DnsRecord = {
  id: string
  name: string
  type: string
  content: string
  proxied: boolean
  ttl: number
  comment: string | null
  tags: string[]
  createdOn: string
  modifiedOn: string
}

export type AccessRule = Record<string, unknown>
export type AccessPolicy = {
  id: string
  name: string
  decision: 'allow' | 'deny' | 'non_identity' | 'bypass'
  include: AccessRule[]
  exclude: AccessRule[]
  require: AccessRule[]
  precedence: number
  createdAt: string
  updatedAt: string
}
export type AccessApp = {
  id: string
  aud: string
  name: string
  domain: string
  type: string
  sessionDuration: string
  policies: AccessPolicy[]
  createdAt: string
  updatedAt: string
}

export type ServiceToken = { id: string; name: string; clientId: string; clientSecret: string; createdAt: string; duration: string }

export type Account = {
  accountId: string
  zoneId: string
  zoneName: string
  tunnels: Map<string, Tunnel>
  dnsRecords: Map<string, DnsRecord>
  accessApps: Map<string, AccessApp>
  serviceTokens: Map<string, ServiceToken>
}

export const now = () => new Date().toISOString()
export const hexId = () => randomBytes(16).toString('hex')

export function createAccount(ids: { accountId: string; zoneId: string; zoneName: string }): Account {
  return { ...ids, tunnels: new Map(), dnsRecords: new Map(), accessApps: new Map(), serviceTokens: new Map() }
}

export function newTunnel(name: string, configSrc: 'local' | 'cloudflare', secret?: string): Tunnel {
  const at = now()
  return {
    id: randomUUID(),
    name,
    createdAt: at,
    deletedAt: null,
    configSrc,
    secret: secret ?? randomBytes(32).toString('base64'),
    config: null,
    configVersion: 0,
    connectors: [],
    connsActiveAt: null,
    connsInactiveAt: at,
  }
}

/** cloudflared's token: base64 of `{"a": account tag, "t": tunnel id, "s": tunnel secret}`. */
export const tunnelToken = (accountId: string, tunnel: Tunnel) =>
  Buffer.from(JSON.stringify({ a: accountId, t: tunnel.id, s: tunnel.secret })).toString('base64')

export function parseTunnelToken(token: string): { a: string; t: string; s: string } | null {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as Record<string, unknown>
    return typeof decoded.a === 'string' && typeof decoded.t === 'string' && typeof decoded.s === 'string' ? { a: decoded.a, t: decoded.t, s: decoded.s } : null
  } catch {
    return null
  }
}

/** `inactive` (never connected), `healthy` (a connector is up), `down` (it was up, none is now). */
export function tunnelStatus(tunnel: Tunnel): 'inactive' | 'healthy' | 'down' {
  if (tunnel.connectors.length > 0) return 'healthy'
  return tunnel.connsActiveAt === null ? 'inactive' : 'down'
}

/** What exists in the account (deleted tunnels excluded): the proof that a terminate cleaned up. */
export function snapshot(account: Account) {
  return {
    tunnels: [...account.tunnels.values()].filter((t) => t.deletedAt === null).map((t) => ({ id: t.id, name: t.name, status: tunnelStatus(t) })),
    dnsRecords: [...account.dnsRecords.values()].map((r) => ({ id: r.id, name: r.name, type: r.type, content: r.content, proxied: r.proxied })),
    accessApps: [...account.accessApps.values()].map((a) => ({ id: a.id, name: a.name, domain: a.domain, policies: a.policies.map((p) => p.decision) })),
    serviceTokens: [...account.serviceTokens.values()].map((s) => ({ id: s.id, name: s.name, clientId: s.clientId })),
  }
}
export type AccountSnapshot = ReturnType<typeof snapshot>
