// A Cloudflare stand-in for runner tests: the nodes zone, the runner's API token with exactly the node path's
// permission groups, the gateway's Access service token, and the runner's NodePath wired to it. `gatewayHeaders`
// is what the Worker sends to a node; `skyEnv` lets the sky stand-in's nodes run cloudflared against its edge.
import { type ApiToken, PERMISSIONS } from '../../scripts/cloudflare-standin/api.ts'
import { startCloudflareStandin, type CloudflareStandin } from '../../scripts/cloudflare-standin/server.ts'
import { createCloudflareClient } from '../src/cloudflare/client.ts'
import { createNodePath, type NodePath } from '../src/cloudflare/node-path.ts'
import { silentLog } from '../src/log.ts'

export const NODE_PATH_TOKEN = 'runner-node-path-token-0123456789'
export const GATEWAY_TOKEN = { name: 'cic-gateway', clientId: 'c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6.access', clientSecret: 'f'.repeat(64) }
const ZONE_ID = 'fedcba9876543210fedcba9876543210'

export type CloudflareEnv = {
  cf: CloudflareStandin
  /** A NodePath using another API token (permission tests). */
  nodePathWith(token: string): NodePath
  nodePath: NodePath
  gatewayHeaders: Record<string, string>
  skyEnv: Record<string, string>
  failures: { stage: string; error: string }[]
  close(): Promise<void>
}

export async function cloudflareEnv(options: { extraTokens?: ApiToken[] } = {}): Promise<CloudflareEnv> {
  const cf = await startCloudflareStandin({
    zoneId: ZONE_ID,
    zoneName: 'nodes.cic.test',
    tokens: [
      { value: NODE_PATH_TOKEN, permissions: [PERMISSIONS.tunnel, PERMISSIONS.accessApps, PERMISSIONS.dns], zones: [ZONE_ID] },
      ...(options.extraTokens ?? []),
    ],
    serviceTokens: [GATEWAY_TOKEN],
  })
  const failures: { stage: string; error: string }[] = []
  const nodePathWith = (token: string) =>
    createNodePath({
      client: createCloudflareClient({ baseUrl: cf.apiUrl, apiToken: token, accountId: cf.account.accountId, zoneId: ZONE_ID }),
      zone: 'nodes.cic.test',
      serviceTokenId: cf.serviceTokenIds[GATEWAY_TOKEN.name] as string,
      endpointTemplate: `${cf.edgeUrl}/{hostname}`,
      originService: 'http://localhost:8000',
      accessTeamName: 'cic-test',
      log: silentLog,
      onFailure: (stage, err) => failures.push({ stage, error: String(err) }),
    })
  return {
    cf,
    nodePathWith,
    nodePath: nodePathWith(NODE_PATH_TOKEN),
    gatewayHeaders: { 'cf-access-client-id': GATEWAY_TOKEN.clientId, 'cf-access-client-secret': GATEWAY_TOKEN.clientSecret },
    skyEnv: { CLOUDFLARED_STANDIN_EDGE: cf.edgeUrl },
    failures,
    close: () => cf.close(),
  }
}
