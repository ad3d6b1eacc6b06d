// The private path to one launched node: a Cloudflare Tunnel per launch attempt (remotely managed, ingress
// `<cluster>.<NODES_ZONE>` → http://localhost:8000 on the node), an Access application on that hostname admitting
// only the gateway's service token, and a proxied CNAME `<cluster>.<NODES_ZONE>` → `<tunnel id>.cfargotunnel.com`.
// Created in that order (Access before the name resolves, so the hostname is never served without Access) and
// removed in the reverse one (the name first, Access last). Everything is found again by name (`cic-node-<cluster>`,
// the hostname), so a runner restarted half-way, or a redelivered job, removes what an earlier attempt left.
import type { Logger } from '../log.ts'
import { CloudflareApiError, type CloudflareClient } from './client.ts'

/** What the node gets: the endpoint the control plane will accept for it, and the token its cloudflared runs with. */
export type NodePathGrant = { endpoint: string; hostname: string; tunnelId: string; tunnelToken: string }

export type NodePath = {
  /** Removes whatever exists for the cluster, then creates a fresh tunnel, Access app and DNS record. */
  create(cluster: string): Promise<NodePathGrant>
  /** Removes the DNS record, the tunnel and the Access app of the cluster; true when something was removed. */
  remove(cluster: string): Promise<{ removed: string[] }>
}

export type NodePathOptions = {
  client: CloudflareClient
  /** NODES_ZONE, e.g. `nodes.example.com`. */
  zone: string
  /** The Access service token the gateway presents (its id; the client id and secret are the Worker's secrets). */
  serviceTokenId: string
  /** `https://{hostname}` in production; locally the Cloudflare stand-in's edge, `http://127.0.0.1:<port>/{hostname}`. */
  endpointTemplate: string
  /** The node's vLLM, as seen by cloudflared on the node. */
  originService: string
  /**
   * The Zero Trust team name (`<team>.cloudflareaccess.com`). When set, the ingress rule also makes cloudflared
   * refuse any request without a valid Access JWT for this node's app (defence in depth: the node checks Access too).
   */
  accessTeamName?: string
  log: Logger
  /** Counts create/cleanup failures (the runner's /metrics). */
  onFailure?: (stage: 'create' | 'cleanup', err: unknown) => void
}

export const tunnelName = (cluster: string) => `cic-node-${cluster}`

export function createNodePath(options: NodePathOptions): NodePath {
  const { client, log } = options
  const hostnameOf = (cluster: string) => `${cluster}.${options.zone}`

  /**
   * DNS record first (the name stops resolving), then the tunnel (its connectors dropped: nothing is served), and
   * the Access app only once both are gone: a hostname must never be served without Access in front of it.
   */
  async function remove(cluster: string): Promise<{ removed: string[] }> {
    const hostname = hostnameOf(cluster)
    const removed: string[] = []
    const errors: unknown[] = []
    try {
      for (const record of await client.findRecords(hostname)) {
        await client.deleteRecord(record.id)
        removed.push(`dns:${record.name}`)
      }
    } catch (err) {
      errors.push(err)
    }
    try {
      for (const tunnel of await client.findTunnels(tunnelName(cluster))) {
        await client.dropConnections(tunnel.id)
        await client.deleteTunnel(tunnel.id)
        removed.push(`tunnel:${tunnel.id}`)
      }
    } catch (err) {
      errors.push(err)
    }
    if (errors.length === 0) {
      try {
        for (const app of await client.findApps(hostname)) {
          if (app.domain !== hostname) continue // the filter is the API's; only this exact hostname is ours
          await client.deleteApp(app.id)
          removed.push(`access_app:${app.id}`)
        }
      } catch (err) {
        errors.push(err)
      }
    }
    if (removed.length > 0) log.info('node_path_removed', { cluster, removed })
    const [first] = errors
    if (first !== undefined) {
      options.onFailure?.('cleanup', first)
      throw first
    }
    return { removed }
  }

  async function create(cluster: string): Promise<NodePathGrant> {
    const hostname = hostnameOf(cluster)
    try {
      await remove(cluster) // an earlier attempt's tunnel token must not stay valid
      const app = await client.createServiceAuthApp(`cic node ${cluster}`, hostname, options.serviceTokenId)
      const tunnel = await client.createTunnel(tunnelName(cluster))
      const access =
        options.accessTeamName && app.aud ? { originRequest: { access: { required: true, teamName: options.accessTeamName, audTag: [app.aud] } } } : {}
      // The last rule must match everything (cloudflared): anything but our hostname is a 404 on the node.
      await client.putIngress(tunnel.id, [{ hostname, service: options.originService, ...access }, { service: 'http_status:404' }])
      const tunnelToken = tunnel.token ?? (await client.tunnelToken(tunnel.id))
      await client.createCname(hostname, `${tunnel.id}.cfargotunnel.com`, `cic launched node ${cluster}`)
      const endpoint = options.endpointTemplate.replace('{hostname}', hostname)
      log.info('node_path_created', { cluster, hostname, tunnelId: tunnel.id, endpoint })
      return { endpoint, hostname, tunnelId: tunnel.id, tunnelToken }
    } catch (err) {
      options.onFailure?.('create', err)
      // Leave nothing half-made; if this cleanup fails too, the next attempt's create (or the terminate) retries it.
      await remove(cluster).catch((cleanupErr: unknown) => log.error('node_path_cleanup_failed', { cluster, error: String(cleanupErr) }))
      throw err
    }
  }

  return { create, remove }
}

/** Retrying later can help (network, 429, 5xx); a 4xx (a missing permission, a bad zone) will not pass by itself. */
export const isTransientNodePathError = (err: unknown) => !(err instanceof CloudflareApiError) || err.isTransient
