// Starts the Cloudflare stand-in: the v4 API (api.ts) on one port, the edge (edge.ts) on another, over one
// account with the nodes zone. Used by tests, by scripts/local-runner.ts (`npm run runner:dev`, the e2e test) and
// standalone through main.ts.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { type ApiCall, type ApiToken, createServiceToken, handleApi, readJson, send } from './api.ts'
import { createEdge, type EdgeEvent } from './edge.ts'
import { type Account, type AccountSnapshot, createAccount, snapshot } from './state.ts'

export type CloudflareStandinOptions = {
  accountId?: string
  zoneId?: string
  /** The nodes zone (NODES_ZONE), e.g. `nodes.cic.test`. */
  zoneName?: string
  tokens: ApiToken[]
  /** Service tokens that exist from the start (the gateway's: its client id and secret are the Worker's secrets). */
  serviceTokens?: { name: string; clientId: string; clientSecret: string }[]
  apiPort?: number
  edgePort?: number
  /**
   * Keeps the account (tunnels, DNS records, Access apps, service tokens) in this JSON file across restarts of
   * `npm run runner:dev`, so nodes still running keep their hostnames; their cloudflared reconnects by itself.
   */
  stateFile?: string
}

export type CloudflareStandin = {
  /** Base of the v4 API, like `https://api.cloudflare.com/client/v4`. */
  apiUrl: string
  /** The edge: a node's local endpoint is `${edgeUrl}/${hostname}`. */
  edgeUrl: string
  account: Account
  serviceTokenIds: Record<string, string>
  calls: ApiCall[]
  edgeEvents: EdgeEvent[]
  snapshot(): AccountSnapshot
  close(): Promise<void>
}

const listen = (server: Server, port: number) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

export async function startCloudflareStandin(options: CloudflareStandinOptions): Promise<CloudflareStandin> {
  const account = createAccount({
    accountId: options.accountId ?? '0123456789abcdef0123456789abcdef',
    zoneId: options.zoneId ?? 'fedcba9876543210fedcba9876543210',
    zoneName: options.zoneName ?? 'nodes.cic.test',
  })
  if (options.stateFile && existsSync(options.stateFile)) loadAccount(account, options.stateFile)
  const serviceTokenIds: Record<string, string> = {}
  for (const t of options.serviceTokens ?? []) {
    const existing = [...account.serviceTokens.values()].find((s) => s.clientId === t.clientId && s.clientSecret === t.clientSecret)
    serviceTokenIds[t.name] = existing?.id ?? createServiceToken(account, t.name, t).id
  }
  const save = () => {
    if (options.stateFile) saveAccount(account, options.stateFile)
  }
  save()
  const calls: ApiCall[] = []
  const edgeEvents: EdgeEvent[] = []
  const edge = createEdge(account, edgeEvents)

  const api = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://standin')
    const method = req.method ?? 'GET'
    if (method === 'GET' && url.pathname === '/__standin/state') {
      // Stand-in only (no such Cloudflare path): what exists now, for tests that prove a terminate left nothing.
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(snapshot(account)))
      return
    }
    const body = method === 'GET' || method === 'DELETE' ? {} : await readJson(req)
    const result: { status: number; body: Record<string, unknown> } =
      body === null
        ? { status: 400, body: { success: false, errors: [{ code: 9207, message: 'Request body is invalid.' }], messages: [], result: null } }
        : handleApi(account, options.tokens, method, url, req.headers.authorization, body)
    calls.push({ method, path: url.pathname + url.search, at: Date.now(), status: result.status })
    if (method !== 'GET' && result.status < 300) save()
    if (result.status === 200 && method === 'PUT' && url.pathname.endsWith('/configurations')) {
      const tunnel = account.tunnels.get(url.pathname.split('/').at(-2) ?? '')
      if (tunnel) edge.pushConfig(tunnel)
    }
    send(res, result)
  })
  const edgeServer = createServer((req, res) => edge.handle(req, res))
  const apiPort = await listen(api, options.apiPort ?? 0)
  const edgePort = await listen(edgeServer, options.edgePort ?? 0)
  return {
    apiUrl: `http://127.0.0.1:${apiPort}/client/v4`,
    edgeUrl: `http://127.0.0.1:${edgePort}`,
    account,
    serviceTokenIds,
    calls,
    edgeEvents,
    snapshot: () => snapshot(account),
    async close() {
      edge.closeAll()
      await Promise.all([closeServer(api), closeServer(edgeServer)])
    },
  }
}

/** The account without live connectors (they reconnect): Maps as arrays. */
function saveAccount(account: Account, file: string): void {
  mkdirSync(path.dirname(file), { recursive: true })
  const data = {
    tunnels: [...account.tunnels.values()].map((t) => ({ ...t, connectors: [] })),
    dnsRecords: [...account.dnsRecords.values()],
    accessApps: [...account.accessApps.values()],
    serviceTokens: [...account.serviceTokens.values()],
  }
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(data, null, 2), { mode: 0o600 })
  renameSync(tmp, file)
}

function loadAccount(account: Account, file: string): void {
  const data = JSON.parse(readFileSync(file, 'utf8')) as {
    tunnels: Account['tunnels'] extends Map<string, infer T> ? T[] : never
    dnsRecords: Account['dnsRecords'] extends Map<string, infer T> ? T[] : never
    accessApps: Account['accessApps'] extends Map<string, infer T> ? T[] : never
    serviceTokens: Account['serviceTokens'] extends Map<string, infer T> ? T[] : never
  }
  for (const t of data.tunnels) account.tunnels.set(t.id, { ...t, connectors: [] })
  for (const r of data.dnsRecords) account.dnsRecords.set(r.id, r)
  for (const a of data.accessApps) account.accessApps.set(a.id, a)
  for (const s of data.serviceTokens) account.serviceTokens.set(s.id, s)
}
