// `npm run deploy -- --env staging|production [--dry-run] [--url https://host]`: creates what the environment is
// missing in the Cloudflare account, applies D1 migrations, checks secrets, deploys the Worker and smoke-tests
// it (scripts/deploy/deploy.ts). --dry-run prints the plan and reads nothing from the account.
// Environment: ADMIN_TOKEN (optional: one admin smoke call), CLOUDFLARE_ACCOUNT_ID (when the login has several).
import { parseArgs } from 'node:util'
import { DeployStop, deploy, describePlan, runnerInstructions } from './deploy.ts'
import { DEPLOYED_ENVIRONMENTS, isDeployedEnvironment, readTarget } from './target.ts'
import { wranglerOnPath } from './wrangler-cli.ts'

const USAGE = `usage: npm run deploy -- --env ${DEPLOYED_ENVIRONMENTS.join('|')} [--dry-run] [--url https://host]`

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { env: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, url: { type: 'string' } } })
  if (!isDeployedEnvironment(values.env)) {
    console.error(`--env must be one of ${DEPLOYED_ENVIRONMENTS.join(', ')}\n${USAGE}`)
    return 2
  }
  const target = readTarget(values.env)
  const options = { url: values.url, adminToken: process.env.ADMIN_TOKEN || undefined, accountId: process.env.CLOUDFLARE_ACCOUNT_ID || undefined }
  if (values['dry-run']) {
    console.log(describePlan(target, options))
    console.log('\n--dry-run: nothing was read from or changed in the account.')
    return 0
  }
  try {
    const report = await deploy(target, options, { wrangler: wranglerOnPath(), fetch, log: (line) => console.log(line) })
    console.log(`\nDeployed ${target.environment}: ${report.url}`)
    console.log(report.created.length ? `created: ${report.created.join(', ')}` : 'created: nothing (every resource existed)')
    console.log(report.appliedMigrations.length ? `migrations applied: ${report.appliedMigrations.join(', ')}` : 'migrations applied: none')
    console.log(`\n${runnerInstructions(target, report)}`)
    return 0
  } catch (err) {
    // A DeployStop is a step saying what to fix; anything else (wrangler answered in a shape we do not know) keeps its stack.
    console.error(`\ndeploy stopped: ${err instanceof DeployStop ? err.message : err instanceof Error ? err.stack : String(err)}`)
    return 1
  }
}

process.exitCode = await main()
