// `npm run runner:dev`: orchestrator-runner against the stack `npm run dev` started (same PORT), with the
// SkyPilot stand-in as `sky` and the Cloudflare stand-in (tunnels, DNS, Access, the edge; fixed ports
// CLOUDFLARE_STANDIN_API_PORT 8790 / CLOUDFLARE_STANDIN_EDGE_PORT 8791, state in .dev-state so nodes survive a
// restart), so POST /admin/nodes/launch brings up a local "GPU node" reachable only through its tunnel.
// Failure knobs: SKY_STANDIN_FAIL=capacity|quota|auth|error|setup, SKY_STANDIN_FAIL_TIMES, SKY_STANDIN_DELAY_MS.
import path from 'node:path'
import { ensureDevVars } from './dev-stack.ts'
import { startLocalRunner } from './local-runner.ts'
import { listClusters } from './sky-standin/state.ts'

const vars = ensureDevVars()
if (!vars.RUNNER_TOKEN) throw new Error('.dev.vars has no RUNNER_TOKEN (see .dev.vars.example)')
const skyStateDir = process.env.SKY_STANDIN_STATE_DIR ?? path.resolve(import.meta.dirname, '..', '.dev-state', 'sky-standin')
const gatewayUrl = `http://127.0.0.1:${process.env.PORT ?? 8787}`
const devState = path.resolve(import.meta.dirname, '..', '.dev-state')
const runner = startLocalRunner({
  gatewayUrl,
  runnerToken: vars.RUNNER_TOKEN,
  skyStateDir,
  cloudflare: {
    apiPort: Number(process.env.CLOUDFLARE_STANDIN_API_PORT ?? 8790),
    edgePort: Number(process.env.CLOUDFLARE_STANDIN_EDGE_PORT ?? 8791),
    stateFile: path.join(devState, 'cloudflare-standin.json'),
  },
})
const cloudflare = await runner.cloudflare()

console.log(`orchestrator-runner -> ${gatewayUrl} (sky stand-in state: ${skyStateDir})
Cloudflare stand-in: API ${cloudflare.apiUrl}, edge ${cloudflare.edgeUrl} (what exists: GET ${cloudflare.apiUrl.replace(/\/client\/v4$/, '')}/__standin/state)
Launch a node:
  curl -X POST ${gatewayUrl}/admin/nodes/launch -H "Authorization: Bearer ${vars.ADMIN_TOKEN}" -H "Content-Type: application/json" \\
    -d '{"provider":"gcp","region":"us-central1","gpu":"A100-80GB","model":"my-launched-llm"}'
Stand-in nodes keep running after Ctrl+C until terminated (POST /admin/nodes/<cluster>/terminate); running now: ${
  listClusters(skyStateDir)
    .map((c) => c.name)
    .join(', ') || 'none'
}`)

const stop = async () => {
  await runner.close()
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
