// CLI for the OIDC stand-in (`node scripts/oidc-standin/main.ts --port 9400`): prints its issuer URL (OIDC_ISSUER
// in .dev.vars) and shuts down cleanly on SIGINT/SIGTERM.
import { parseArgs } from 'node:util'
import { startOidcStandin } from './server.ts'

const { values } = parseArgs({ options: { port: { type: 'string', default: '9400' }, host: { type: 'string', default: '127.0.0.1' } } })
const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`oidc-standin: bad --port ${values.port}`)
  process.exit(2)
}
const standin = await startOidcStandin({ port, host: values.host })
console.log(`oidc-standin listening on ${standin.url} (set OIDC_ISSUER=${standin.url})`)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void standin.close().then(() => process.exit(0)))
}
