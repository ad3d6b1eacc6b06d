// The Cloudflare stand-in's API: the v4 envelope, the tunnel / DNS / Access calls the runner makes, token
// permissions (least privilege), and its edge: Access refuses a request without the service token before it
// reaches the tunnel, a tunnel without a connector is a 530, and a connected cloudflared serves through ingress.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { PERMISSIONS } from './api.ts'
import { startCloudflareStandin, type CloudflareStandin } from './server.ts'

const TOKEN = 'runner-token-0123456789abcdef'
const GATEWAY = { name: 'cic-gateway', clientId: '0123456789abcdef0123456789abcdef.access', clientSecret: 'a'.repeat(64) }
let cf: CloudflareStandin
let children: ChildProcess[] = []

beforeEach(async () => {
  cf = await startCloudflareStandin({
    tokens: [
      { value: TOKEN, permissions: [PERMISSIONS.tunnel, PERMISSIONS.accessApps, PERMISSIONS.dns], zones: ['fedcba9876543210fedcba9876543210'] },
      { value: 'dns-only-token-0123456789', permissions: [PERMISSIONS.dns], zones: ['another-zone'] },
    ],
    serviceTokens: [GATEWAY],
  })
})
afterEach(async () => {
  for (const c of children) c.kill('SIGKILL')
  children = []
  await cf.close()
})

const api = async (method: string, route: string, body?: unknown, token = TOKEN) => {
  const res = await fetch(`${cf.apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return {
    status: res.status,
    json: (await res.json()) as Envelope,
  }
}
// biome-ignore lint/suspicious/noExplicitAny: test reads whatever result shape the route returns
type Envelope = { success: boolean; errors: { code: number; message: string }[]; result: any; result_info?: unknown }
const acct = () => `/accounts/${cf.account.accountId}`
const zone = () => `/zones/${cf.account.zoneId}`

async function provision(hostname: string) {
  const tunnel = (await api('POST', `${acct()}/cfd_tunnel`, { name: `cic-${hostname}`, config_src: 'cloudflare' })).json.result
  await api('PUT', `${acct()}/cfd_tunnel/${tunnel.id}/configurations`, {
    config: { ingress: [{ hostname, service: 'http://localhost:8000' }, { service: 'http_status:404' }] },
  })
  await api('POST', `${zone()}/dns_records`, { type: 'CNAME', name: hostname, content: `${tunnel.id}.cfargotunnel.com`, proxied: true, ttl: 1 })
  await api('POST', `${acct()}/access/apps`, {
    name: hostname,
    domain: hostname,
    type: 'self_hosted',
    policies: [{ name: 'gateway', decision: 'non_identity', include: [{ service_token: { token_id: cf.serviceTokenIds[GATEWAY.name] } }] }],
  })
  return tunnel as { id: string; token: string }
}

async function origin(): Promise<{ server: Server; port: number; seen: { url: string; headers: Record<string, unknown> }[] }> {
  const seen: { url: string; headers: Record<string, unknown> }[] = []
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers })
    res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from vLLM')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, port: (server.address() as AddressInfo).port, seen }
}

function runCloudflared(token: string, localhostMap: string): ChildProcess {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'cloudflared.ts'), 'tunnel', '--no-autoupdate', 'run'], {
    env: { ...process.env, TUNNEL_TOKEN: token, CLOUDFLARED_STANDIN_EDGE: cf.edgeUrl, CLOUDFLARED_STANDIN_LOCALHOST: localhostMap },
    stdio: 'ignore',
  })
  children.push(child)
  return child
}

describe('the v4 API', () => {
  it('answers in the {success, errors, messages, result} envelope, with result_info on lists', async () => {
    const created = await api('POST', `${acct()}/cfd_tunnel`, { name: 'cic-a', config_src: 'cloudflare' })
    expect(created.json).toMatchObject({ success: true, errors: [], messages: [], result: { name: 'cic-a', status: 'inactive', tun_type: 'cfd_tunnel' } })
    expect(Buffer.from(created.json.result.token, 'base64').toString()).toContain(created.json.result.id)
    const token = await api('GET', `${acct()}/cfd_tunnel/${created.json.result.id}/token`)
    expect(token.json.result).toBe(created.json.result.token)
    const listed = await api('GET', `${acct()}/cfd_tunnel?name=cic-a&is_deleted=false`)
    expect(listed.json.result).toHaveLength(1)
    expect(listed.json.result_info).toMatchObject({ page: 1, count: 1, total_count: 1 })
  })

  it('refuses a malformed or unknown token, and every call outside the token’s permission groups', async () => {
    expect((await api('GET', `${acct()}/cfd_tunnel`, undefined, 'not a token')).status).toBe(400)
    expect((await api('GET', `${acct()}/cfd_tunnel`, undefined, 'unknown-token-0123456789')).json.errors[0]?.code).toBe(9109)
    const dnsOnly = 'dns-only-token-0123456789'
    expect((await api('POST', `${acct()}/cfd_tunnel`, { name: 'x' }, dnsOnly)).json).toMatchObject({ success: false, errors: [{ code: 10000 }] })
    expect((await api('GET', `${zone()}/dns_records`, undefined, dnsOnly)).status).toBe(403) // DNS Write, but on another zone
    expect((await api('POST', `${acct()}/access/service_tokens`, { name: 'x' })).status).toBe(403) // the runner's token cannot mint service tokens
  })

  it('keeps the tunnel/DNS/Access rules the runner relies on (unique names, CNAME clash, last ingress rule, connections first)', async () => {
    const t = await provision('n1.nodes.cic.test')
    expect((await api('POST', `${acct()}/cfd_tunnel`, { name: 'cic-n1.nodes.cic.test' })).status).toBe(409)
    expect((await api('POST', `${zone()}/dns_records`, { type: 'CNAME', name: 'n1', content: 'x.cfargotunnel.com', proxied: true })).json.errors[0]?.code).toBe(
      81053,
    )
    expect(
      (await api('PUT', `${acct()}/cfd_tunnel/${t.id}/configurations`, { config: { ingress: [{ hostname: 'n1', service: 'http://localhost:8000' }] } })).status,
    ).toBe(400)
    expect((await api('GET', `${zone()}/dns_records?name.exact=n1.nodes.cic.test`)).json.result).toHaveLength(1)
    expect((await api('GET', `${acct()}/access/apps?domain=n1.nodes.cic.test`)).json.result[0]).toMatchObject({ policies: [{ decision: 'non_identity' }] })
    const o = await origin()
    runCloudflared(t.token, `8000=${o.port}`)
    await vi.waitFor(() => expect(cf.snapshot().tunnels[0]?.status).toBe('healthy'), { timeout: 10_000 })
    expect((await api('DELETE', `${acct()}/cfd_tunnel/${t.id}`)).json.errors[0]?.code).toBe(1022)
    expect((await api('DELETE', `${acct()}/cfd_tunnel/${t.id}/connections`)).status).toBe(200)
    expect((await api('DELETE', `${acct()}/cfd_tunnel/${t.id}`)).status).toBe(200)
    o.server.close()
  })
})

describe('the edge', () => {
  it('serves through a connected cloudflared only with the gateway’s service token; Access answers 403 before the tunnel', async () => {
    const hostname = 'n2.nodes.cic.test'
    const t = await provision(hostname)
    const o = await origin()
    const url = `${cf.edgeUrl}/${hostname}/v1/models`
    // DNS and Access exist, no connector yet: Access still refuses first; with the token, 530 (error 1033).
    expect((await fetch(url)).status).toBe(403)
    const withToken = { 'cf-access-client-id': GATEWAY.clientId, 'cf-access-client-secret': GATEWAY.clientSecret }
    const noConnector = await fetch(url, { headers: withToken })
    expect(noConnector.status).toBe(530)
    expect(await noConnector.text()).toContain('1033')

    const child = runCloudflared(t.token, `8000=${o.port}`)
    await vi.waitFor(() => expect(cf.snapshot().tunnels[0]?.status).toBe('healthy'), { timeout: 10_000 })
    const served = await fetch(url, { headers: withToken })
    expect(served.status).toBe(200)
    expect(await served.text()).toBe('hello from vLLM')
    // The origin never sees the service token; it gets Access's JWT header instead.
    expect(o.seen).toHaveLength(1)
    expect(o.seen[0]).toMatchObject({ url: '/v1/models', headers: { 'cf-access-jwt-assertion': expect.any(String) } })
    expect(o.seen[0]?.headers['cf-access-client-secret']).toBeUndefined()

    const wrong = await fetch(url, { headers: { ...withToken, 'cf-access-client-secret': 'b'.repeat(64) } })
    expect(wrong.status).toBe(403)
    expect(o.seen).toHaveLength(1) // a refused request never reached the node
    expect(cf.edgeEvents.map((e) => e.outcome)).toEqual(['access_denied', 'no_connector', 'forwarded', 'access_denied'])

    // The connector dies (a preempted node): the tunnel goes down and the edge answers 530 again.
    child.kill('SIGKILL')
    await vi.waitFor(() => expect(cf.snapshot().tunnels[0]?.status).toBe('down'), { timeout: 10_000 })
    expect((await fetch(url, { headers: withToken })).status).toBe(530)
    o.server.close()
  })

  it('cloudflared refuses a request without the app’s Access JWT when the ingress requires it (even if Access was removed)', async () => {
    const hostname = 'n3.nodes.cic.test'
    const t = await provision(hostname)
    const app = cf.snapshot().accessApps[0]
    const aud = cf.account.accessApps.get(app?.id ?? '')?.aud as string
    await api('PUT', `${acct()}/cfd_tunnel/${t.id}/configurations`, {
      config: {
        ingress: [
          { hostname, service: 'http://localhost:8000', originRequest: { access: { required: true, teamName: 'cic-test', audTag: [aud] } } },
          { service: 'http_status:404' },
        ],
      },
    })
    const o = await origin()
    runCloudflared(t.token, `8000=${o.port}`)
    await vi.waitFor(() => expect(cf.snapshot().tunnels[0]?.status).toBe('healthy'), { timeout: 10_000 })
    const withToken = { 'cf-access-client-id': GATEWAY.clientId, 'cf-access-client-secret': GATEWAY.clientSecret }
    expect((await fetch(`${cf.edgeUrl}/${hostname}/health`, { headers: withToken })).status).toBe(200)
    // Someone deletes the Access app: the edge now lets anything through, but the node's cloudflared does not.
    await api('DELETE', `${acct()}/access/apps/${app?.id}`)
    expect((await fetch(`${cf.edgeUrl}/${hostname}/health`)).status).toBe(403)
    expect(o.seen).toHaveLength(1)
    o.server.close()
  })

  it('answers 530 (1016) for a hostname with no DNS record', async () => {
    expect((await fetch(`${cf.edgeUrl}/nothing.nodes.cic.test/health`)).status).toBe(530)
  })
})
