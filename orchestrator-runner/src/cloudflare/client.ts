// Cloudflare's v4 API for the node path: tunnels, DNS records of the nodes zone, Access applications. Paths,
// methods and bodies as in cloudflare/cloudflare-typescript (zero-trust/tunnels/cloudflared/{cloudflared,
// configurations,token,connections}.ts, dns/records.ts, zero-trust/access/applications/applications.ts); every
// answer is the `{success, errors, messages, result}` envelope. The same code talks to api.cloudflare.com and to
// scripts/cloudflare-standin (the base URL is configuration). Failures throw CloudflareApiError; `isTransient`
// (network, 429, 5xx) tells the caller to retry later rather than fail the launch.
export class CloudflareApiError extends Error {
  /** HTTP status; null when no answer came (network, timeout). */
  readonly status: number | null
  /** The envelope's error codes. */
  readonly codes: number[]
  constructor(message: string, status: number | null, codes: number[]) {
    super(message)
    this.status = status
    this.codes = codes
  }
  get isTransient(): boolean {
    return this.status === null || this.status === 429 || this.status >= 500
  }
}

export type CloudflareClientOptions = {
  /** `https://api.cloudflare.com/client/v4` in production. */
  baseUrl: string
  apiToken: string
  accountId: string
  zoneId: string
  fetch?: typeof fetch
  timeoutMs?: number
}

export type TunnelInfo = { id: string; name: string; status?: string; token?: string }
export type DnsRecordInfo = { id: string; name: string; type: string; content: string; proxied?: boolean }
export type AccessAppInfo = { id: string; name?: string; domain: string; aud?: string }
/** `originRequest.access`: cloudflared itself checks each request's Access JWT (team name, app AUD tags). */
export type IngressRule = { hostname?: string; service: string; originRequest?: { access?: { required: boolean; teamName: string; audTag: string[] } } }

type Envelope<T> = { success: boolean; errors?: { code: number; message: string }[]; result: T }

export function createCloudflareClient(options: CloudflareClientOptions) {
  const doFetch = options.fetch ?? fetch
  const account = `/accounts/${encodeURIComponent(options.accountId)}`
  const zone = `/zones/${encodeURIComponent(options.zoneId)}`

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response
    try {
      res = await doFetch(`${options.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${options.apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        redirect: 'manual',
      })
    } catch (err) {
      throw new CloudflareApiError(`Cloudflare API unreachable (${method} ${path}): ${String(err)}`, null, [])
    }
    const text = await res.text()
    let envelope: Envelope<T> | null = null
    try {
      envelope = JSON.parse(text) as Envelope<T>
    } catch {
      /* an error page, not the API's envelope */
    }
    if (!res.ok || !envelope?.success) {
      const errors = envelope?.errors ?? []
      const detail = errors.length > 0 ? errors.map((e) => `${e.code}: ${e.message}`).join('; ') : text.slice(0, 200)
      throw new CloudflareApiError(
        `Cloudflare API ${method} ${path.replace(/\?.*$/, '')} -> HTTP ${res.status}: ${detail}`,
        res.status,
        errors.map((e) => e.code),
      )
    }
    return envelope.result
  }

  const q = (params: Record<string, string>) => new URLSearchParams(params).toString()

  return {
    /** A remotely-managed tunnel (`config_src: cloudflare`): its ingress is set by putIngress, not on the node. */
    createTunnel: (name: string) => call<TunnelInfo>('POST', `${account}/cfd_tunnel`, { name, config_src: 'cloudflare' }),
    findTunnels: (name: string) => call<TunnelInfo[]>('GET', `${account}/cfd_tunnel?${q({ name, is_deleted: 'false' })}`),
    tunnelToken: (tunnelId: string) => call<string>('GET', `${account}/cfd_tunnel/${tunnelId}/token`),
    putIngress: (tunnelId: string, ingress: IngressRule[]) => call<unknown>('PUT', `${account}/cfd_tunnel/${tunnelId}/configurations`, { config: { ingress } }),
    /** Removes the tunnel's connectors whatever their state (a tunnel with live connections cannot be deleted). */
    dropConnections: (tunnelId: string) => call<unknown>('DELETE', `${account}/cfd_tunnel/${tunnelId}/connections`),
    deleteTunnel: (tunnelId: string) => call<unknown>('DELETE', `${account}/cfd_tunnel/${tunnelId}`),
    createCname: (name: string, target: string, comment: string) =>
      call<DnsRecordInfo>('POST', `${zone}/dns_records`, { type: 'CNAME', name, content: target, proxied: true, ttl: 1, comment }),
    findRecords: (name: string) => call<DnsRecordInfo[]>('GET', `${zone}/dns_records?${q({ 'name.exact': name, type: 'CNAME' })}`),
    deleteRecord: (recordId: string) => call<unknown>('DELETE', `${zone}/dns_records/${recordId}`),
    /** A self-hosted Access application whose one inline policy admits only `serviceTokenId` (decision non_identity). */
    createServiceAuthApp: (name: string, domain: string, serviceTokenId: string) =>
      call<AccessAppInfo>('POST', `${account}/access/apps`, {
        name,
        domain,
        type: 'self_hosted',
        session_duration: '24h',
        app_launcher_visible: false,
        policies: [{ name: 'cic gateway service token', decision: 'non_identity', include: [{ service_token: { token_id: serviceTokenId } }], precedence: 1 }],
      }),
    findApps: (domain: string) => call<AccessAppInfo[]>('GET', `${account}/access/apps?${q({ domain })}`),
    deleteApp: (appId: string) => call<unknown>('DELETE', `${account}/access/apps/${appId}`),
  }
}
export type CloudflareClient = ReturnType<typeof createCloudflareClient>
