// The deploy of one environment, step by step, each step idempotent: look first, create only what is missing.
// describePlan() prints the same steps without touching the account (--dry-run). Called by main.ts; the tests
// drive both through a fake `wrangler` on PATH.
import type { DeployTarget } from './target.ts'
import {
  parseD1CreateId,
  parseD1List,
  parseDeploy,
  parseHttpConsumers,
  parsePendingMigrations,
  parseQueueInfo,
  parseSecretList,
  parseWhoami,
  type QueueInfo,
  type Wrangler,
} from './wrangler-cli.ts'

export type DeployOptions = {
  /** The Worker's URL for the smoke test; by default the workers.dev URL `wrangler deploy` prints. */
  url?: string
  /** When set, the smoke test also makes one admin call with it (GET /admin/tenants). */
  adminToken?: string
  /** From the environment: picks the account when the login has several. */
  accountId?: string
  smokeTimeoutMs?: number
}
export type DeployDeps = { wrangler: Wrangler; fetch: typeof fetch; log: (line: string) => void }
export type DeployReport = { accountId: string; url: string; versionId?: string; nodeOpsQueueId: string; created: string[]; appliedMigrations: string[] }

/** A stop with a message for the maintainer (main.ts prints it without a stack). */
export class DeployStop extends Error {}

const envArgs = (t: DeployTarget) => ['--env', t.environment]
const pullConsumerArgs = (t: DeployTarget) => [
  'queues',
  'consumer',
  'http',
  'add',
  t.pullConsumer.queue,
  '--batch-size',
  String(t.pullConsumer.batchSize),
  '--message-retries',
  String(t.pullConsumer.messageRetries),
  '--dead-letter-queue',
  t.pullConsumer.deadLetterQueue,
  '--visibility-timeout-secs',
  String(t.pullConsumer.visibilityTimeoutSecs),
]

/** The whole plan as text: what each step checks and what it runs when something is missing. Reads nothing remote. */
export function describePlan(t: DeployTarget, options: DeployOptions): string {
  const w = (args: string[]) => `wrangler ${args.join(' ')}`
  const lines = [
    `Deploy plan for ${t.environment} (Worker ${t.workerName}, config ${t.configPath})`,
    `1. Login: ${w(['whoami', '--json'])}; stop if not logged in. Account: CLOUDFLARE_ACCOUNT_ID${options.accountId ? ` (${options.accountId})` : ''}, or the login's only account.`,
    `2. D1 database "${t.database.name}" (binding ${t.database.binding}): ${w(['d1', 'list', '--json'])}; if missing: ${w(['d1', 'create', t.database.name])}`,
    `3. Queues (each: ${w(['queues', 'info', '<name>'])}; if missing: ${w(['queues', 'create', '<name>'])}):`,
    ...t.queues.map((q) => `     ${q.name}  (${q.role})`),
    `4. node-ops pull consumer for orchestrator-runner: ${w(['queues', 'consumer', 'http', 'list', t.pullConsumer.queue, '--json'])}; if none: ${w(pullConsumerArgs(t))}; stop if one exists with another dead-letter queue`,
    `5. D1 migrations from ${t.database.migrationsDir} (${t.migrationFiles.length} files, ${t.migrationFiles.at(-1) ?? 'none'} last): ${w(['d1', 'migrations', 'list', t.database.binding, '--remote', ...envArgs(t)])}; if any pending: ${w(['d1', 'migrations', 'apply', t.database.binding, '--remote', ...envArgs(t)])}`,
    `6. Secrets (names only): ${w(['secret', 'list', '--format', 'json', ...envArgs(t)])}; stop unless all are set: ${t.requiredSecrets.join(', ')}`,
    `7. Deploy: ${w(['deploy', ...envArgs(t)])} (uploads a new Worker version on every run)`,
    `8. Smoke test: GET ${options.url ?? '<workers.dev URL from wrangler deploy>'}/health${options.adminToken ? ', then GET /admin/tenants with ADMIN_TOKEN' : ' (ADMIN_TOKEN not in the environment: no admin call)'}`,
    `9. Print what orchestrator-runner needs: CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_QUEUE_ID (${t.pullConsumer.queue}'s id), CLOUDFLARE_API_TOKEN, CONTROL_PLANE_URL, RUNNER_TOKEN`,
  ]
  return lines.join('\n')
}

export async function deploy(t: DeployTarget, options: DeployOptions, deps: DeployDeps): Promise<DeployReport> {
  const { log } = deps
  const created: string[] = []

  // 1. Login, and the account every later call acts on (several accounts: wrangler would prompt, stdin is closed).
  const who = parseWhoami(await deps.wrangler(['whoami', '--json']))
  if (!who.loggedIn) throw new DeployStop('wrangler is not logged in: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then run the deploy again')
  const accountId = options.accountId ?? (who.accounts.length === 1 ? who.accounts[0]?.id : undefined)
  if (!accountId)
    throw new DeployStop(
      `the login has ${who.accounts.length} accounts (${who.accounts.map((a) => `${a.name} ${a.id}`).join(', ')}): set CLOUDFLARE_ACCOUNT_ID to the one to deploy to`,
    )
  log(`1. logged in${who.email ? ` as ${who.email}` : ''}; account ${accountId}`)
  const env = { CLOUDFLARE_ACCOUNT_ID: accountId }
  const run = async (args: string[], what: string, echo = false) => {
    const result = await deps.wrangler(args, { env, echo })
    if (result.status !== 0) throw new DeployStop(`${what} failed (wrangler ${args.join(' ')}):\n${(result.stderr || result.stdout).trim()}`)
    return result
  }

  // 2. D1 database, looked up by name (the repository holds no database_id).
  const databases = parseD1List((await run(['d1', 'list', '--json'], 'listing D1 databases')).stdout)
  const existing = databases.find((db) => db.name === t.database.name)
  if (existing) log(`2. D1 ${t.database.name}: exists (${existing.uuid})`)
  else {
    const id = parseD1CreateId((await run(['d1', 'create', t.database.name], `creating D1 database ${t.database.name}`)).stdout)
    created.push(`d1:${t.database.name}`)
    log(`2. D1 ${t.database.name}: created (${id ?? 'id not printed'})`)
  }

  // 3. Queues, each looked up by name and created when missing.
  const infos = new Map<string, QueueInfo>()
  for (const q of t.queues) {
    let info = parseQueueInfo(q.name, await deps.wrangler(['queues', 'info', q.name], { env }))
    if (!info) {
      await run(['queues', 'create', q.name], `creating queue ${q.name}`)
      created.push(`queue:${q.name}`)
      info = parseQueueInfo(q.name, await deps.wrangler(['queues', 'info', q.name], { env }))
      if (!info) throw new DeployStop(`queue ${q.name} was created but \`wrangler queues info\` does not find it`)
      log(`3. queue ${q.name}: created (${info.id})`)
    } else log(`3. queue ${q.name}: exists (${info.id})`)
    infos.set(q.name, info)
  }

  // 4. node-ops: an HTTP pull consumer (orchestrator-runner). A queue has one consumer kind: a Worker consumer here
  // would be a misconfiguration (wrangler.toml declares none for deployed environments).
  const nodeOps = infos.get(t.pullConsumer.queue)
  if (!nodeOps) throw new DeployStop(`${t.pullConsumer.queue} is not among the environment's queues`)
  if (nodeOps.workerConsumers.length > 0)
    throw new DeployStop(
      `${t.pullConsumer.queue} has a Worker consumer (${nodeOps.workerConsumers.join(', ')}); it must have orchestrator-runner's HTTP pull consumer instead: \`wrangler queues consumer remove ${t.pullConsumer.queue} <script>\``,
    )
  const [pull] = parseHttpConsumers(
    (await run(['queues', 'consumer', 'http', 'list', t.pullConsumer.queue, '--json'], `listing ${t.pullConsumer.queue}'s pull consumer`)).stdout,
  )
  if (!pull) {
    await run(pullConsumerArgs(t), `adding the HTTP pull consumer to ${t.pullConsumer.queue}`)
    created.push(`pull-consumer:${t.pullConsumer.queue}`)
    log(`4. ${t.pullConsumer.queue}: HTTP pull consumer added (dead letters to ${t.pullConsumer.deadLetterQueue})`)
  } else {
    // Without the right DLQ a dead-lettered terminate would vanish (a leaked GPU node): refuse. Other settings only
    // tune delivery (the runner sends its own batch size and visibility timeout with each pull): report them.
    if (pull.deadLetterQueue !== t.pullConsumer.deadLetterQueue) {
      throw new DeployStop(
        `${t.pullConsumer.queue}'s HTTP pull consumer sends dead letters to ${pull.deadLetterQueue ?? 'no queue'}, not ${t.pullConsumer.deadLetterQueue}: remove it (\`npx wrangler queues consumer http remove ${t.pullConsumer.queue}\`) and run the deploy again to add it as planned`,
      )
    }
    const differs = [
      pull.maxRetries !== t.pullConsumer.messageRetries && `max_retries ${pull.maxRetries} (planned ${t.pullConsumer.messageRetries})`,
      pull.batchSize !== t.pullConsumer.batchSize && `batch_size ${pull.batchSize} (planned ${t.pullConsumer.batchSize})`,
      pull.visibilityTimeoutMs !== t.pullConsumer.visibilityTimeoutSecs * 1000 &&
        `visibility_timeout_ms ${pull.visibilityTimeoutMs} (planned ${t.pullConsumer.visibilityTimeoutSecs * 1000})`,
    ].filter(Boolean)
    log(
      `4. ${t.pullConsumer.queue}: HTTP pull consumer exists, dead letters to ${pull.deadLetterQueue}${differs.length ? `; differs from the plan (left as is): ${differs.join(', ')}` : ''}`,
    )
  }

  // 5. Remote D1 migrations: only the pending ones (wrangler keeps the applied list in the database, d1_migrations).
  const migrationArgs = [t.database.binding, '--remote', ...envArgs(t)]
  const pending = parsePendingMigrations((await run(['d1', 'migrations', 'list', ...migrationArgs], 'listing D1 migrations')).stdout)
  if (pending.length === 0) log('5. D1 migrations: none pending')
  else {
    log(`5. D1 migrations: applying ${pending.join(', ')}`)
    await run(['d1', 'migrations', 'apply', ...migrationArgs], 'applying D1 migrations', true)
  }

  // 6. Every required secret is set (names only: wrangler never reads a value back; the Worker checks values).
  const setSecrets = new Set(parseSecretList(await deps.wrangler(['secret', 'list', '--format', 'json', ...envArgs(t)], { env })))
  const missing = t.requiredSecrets.filter((name) => !setSecrets.has(name))
  if (missing.length > 0) {
    throw new DeployStop(
      `secrets not set for ${t.environment}: ${missing.join(', ')}. Set each (README "Deploy to Cloudflare"), then run the deploy again:\n${missing.map((name) => `  npx wrangler secret put ${name} --env ${t.environment}`).join('\n')}`,
    )
  }
  log(`6. secrets set: ${t.requiredSecrets.join(', ')}`)

  // 7. Deploy. Every run uploads a new Worker version, even of identical code: wrangler 4.164 does not compare.
  const deployed = parseDeploy((await run(['deploy', ...envArgs(t)], 'wrangler deploy', true)).stdout)
  const url = (options.url ?? deployed.url)?.replace(/\/+$/, '')
  if (!url)
    throw new DeployStop('deployed, but wrangler printed no workers.dev URL (custom routes only?): run again with --url https://<your host> for the smoke test')
  log(`7. deployed ${t.workerName}${deployed.versionId ? ` version ${deployed.versionId}` : ''} at ${url}`)

  // 8. Smoke test.
  await smokeTest(url, options, deps)

  return { accountId, url, versionId: deployed.versionId, nodeOpsQueueId: nodeOps.id, created, appliedMigrations: pending }
}

/** GET /health until it answers 200 (a new workers.dev route can take a little while), then one admin call. */
async function smokeTest(url: string, options: DeployOptions, deps: DeployDeps): Promise<void> {
  const deadline = Date.now() + (options.smokeTimeoutMs ?? 60_000)
  let last = ''
  for (;;) {
    try {
      const res = await deps.fetch(`${url}/health`)
      if (res.ok) break
      last = `${res.status} ${await res.text()}`
    } catch (err) {
      last = String(err)
    }
    if (Date.now() > deadline) throw new DeployStop(`smoke test: GET ${url}/health did not answer 200 (last: ${last})`)
    await new Promise((r) => setTimeout(r, 2_000))
  }
  deps.log(`8. GET /health: 200`)
  if (!options.adminToken) {
    deps.log('8. ADMIN_TOKEN not in the environment: admin smoke call skipped')
    return
  }
  const res = await deps.fetch(`${url}/admin/tenants`, { headers: { authorization: `Bearer ${options.adminToken}` } })
  const body = await res.text()
  // A 500 here is typically the Worker refusing its configuration (a placeholder or short secret, env.ts).
  if (!res.ok) throw new DeployStop(`smoke test: GET /admin/tenants answered ${res.status}: ${body.slice(0, 500)}`)
  deps.log(`8. GET /admin/tenants: 200`)
}

/** What orchestrator-runner needs (orchestrator-runner/src/config.ts), for the maintainer to put in its env file. */
export function runnerInstructions(t: DeployTarget, report: DeployReport): string {
  return [
    `orchestrator-runner for ${t.environment} (orchestrator-runner/README.md), in its env file:`,
    `  CLOUDFLARE_ACCOUNT_ID=${report.accountId}`,
    `  CLOUDFLARE_QUEUE_ID=${report.nodeOpsQueueId}    # ${t.pullConsumer.queue}`,
    '  CLOUDFLARE_API_TOKEN=<an API token with Account > Queues > Edit (pull and ack); dashboard: My Profile > API Tokens>',
    `  CONTROL_PLANE_URL=${report.url}`,
    `  RUNNER_TOKEN=<the value you set with \`wrangler secret put RUNNER_TOKEN --env ${t.environment}\`; wrangler cannot read it back>`,
  ].join('\n')
}
