// The process scripts/local-runner.ts starts: the Cloudflare stand-in (API + edge, the nodes zone, the runner's
// node-path token, the gateway's Access service token from .dev.vars) and, under it, orchestrator-runner's real
// entry point wired to that stand-in. One process, so startLocalRunner stays synchronous for its callers. SIGTERM or
// SIGINT is passed to the runner (which finishes its jobs); when it exits the stand-in closes. It prints one line,
// `cloudflare-standin api=<url> edge=<url>`, before the runner's own output.
import { spawn } from 'node:child_process'
import path from 'node:path'
import { PERMISSIONS } from './cloudflare-standin/api.ts'
import { startCloudflareStandin } from './cloudflare-standin/server.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const env = process.env
const required = (name: string) => {
  const value = env[name]
  if (!value) throw new Error(`local-runner-process: ${name} is not set`)
  return value
}
const ZONE_ID = 'localnodeszone00000000000000000a'
const port = (name: string) => (env[name] ? Number(env[name]) : 0)

const cf = await startCloudflareStandin({
  accountId: required('CLOUDFLARE_ACCOUNT_ID'),
  zoneId: ZONE_ID,
  zoneName: required('NODES_ZONE'),
  tokens: [{ value: required('CLOUDFLARE_NODE_PATH_API_TOKEN'), permissions: [PERMISSIONS.tunnel, PERMISSIONS.accessApps, PERMISSIONS.dns], zones: [ZONE_ID] }],
  serviceTokens: [{ name: 'cic-gateway', clientId: required('CIC_GATEWAY_ACCESS_CLIENT_ID'), clientSecret: required('CIC_GATEWAY_ACCESS_CLIENT_SECRET') }],
  apiPort: port('CLOUDFLARE_STANDIN_API_PORT'),
  edgePort: port('CLOUDFLARE_STANDIN_EDGE_PORT'),
  stateFile: env.CLOUDFLARE_STANDIN_STATE_FILE || undefined,
})
process.stdout.write(`cloudflare-standin api=${cf.apiUrl} edge=${cf.edgeUrl}\n`)

const runnerEnv: NodeJS.ProcessEnv = {
  ...env,
  CLOUDFLARE_NODE_PATH_API_BASE: cf.apiUrl,
  NODES_ZONE_ID: ZONE_ID,
  ACCESS_SERVICE_TOKEN_ID: cf.serviceTokenIds['cic-gateway'],
  NODE_ENDPOINT_TEMPLATE: `${cf.edgeUrl}/{hostname}`,
  // The sky stand-in's nodes run the cloudflared stand-in against this edge.
  CLOUDFLARED_STANDIN_EDGE: cf.edgeUrl,
}
delete runnerEnv.CIC_GATEWAY_ACCESS_CLIENT_SECRET // the runner never needs the gateway's secret
const runner = spawn(process.execPath, [path.join(ROOT, 'orchestrator-runner', 'src', 'main.ts')], { cwd: ROOT, env: runnerEnv, stdio: 'inherit' })
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => runner.kill(signal))
runner.on('exit', async (code, signal) => {
  await cf.close()
  process.exit(code ?? (signal ? 1 : 0))
})
