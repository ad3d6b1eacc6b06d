// The one place that builds the headers every gateway request to a node carries besides its own: Cloudflare
// Access's service-token headers (CF-Access-Client-Id / CF-Access-Client-Secret), which the Access application in
// front of each launched node requires (orchestrator-runner/src/cloudflare/node-path.ts creates it; a request
// without them gets Access's 403 and never reaches vLLM). Used by the proxy (services/proxy/forward-inference.ts)
// and the NodeMonitor's probes (durable-objects/node-monitor/probe-node.ts). The service token is sent only to
// hosts under NODES_ZONE in production-like environments, so an admin-registered node elsewhere never sees it.
// Header names: developers.cloudflare.com/cloudflare-one/identity/service-tokens/ ("CF-Access-Client-Id",
// "CF-Access-Client-Secret").
import { env } from 'cloudflare:workers'

type AccessEnv = { CF_ACCESS_CLIENT_ID?: string; CF_ACCESS_CLIENT_SECRET?: string; NODES_ZONE?: string; ENVIRONMENT?: string }

const isUnderZone = (endpoint: string, zone: string): boolean => {
  try {
    const host = new URL(endpoint).hostname.toLowerCase()
    return zone !== '' && host.endsWith(`.${zone.toLowerCase()}`)
  } catch {
    return false
  }
}

/** `source` defaults to the Worker's (or Durable Object's) env; tests pass their own. */
export function nodeAccessHeaders(endpoint: string, source: AccessEnv = env as unknown as AccessEnv): Record<string, string> {
  const id = source.CF_ACCESS_CLIENT_ID
  const secret = source.CF_ACCESS_CLIENT_SECRET
  if (!id || !secret) return {}
  const isProduction = source.ENVIRONMENT === undefined || source.ENVIRONMENT === 'staging' || source.ENVIRONMENT === 'production'
  if (isProduction && !isUnderZone(endpoint, source.NODES_ZONE ?? '')) return {}
  return { 'cf-access-client-id': id, 'cf-access-client-secret': secret }
}
