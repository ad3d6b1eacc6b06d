// A stand-in for the `wrangler` CLI for the deploy script's tests: records each call's argv and CLOUDFLARE_ACCOUNT_ID (one JSON
// line in FAKE_WRANGLER_CALLS) and answers from an account kept in a JSON file (FAKE_WRANGLER_STATE), with the output
// shapes and messages of wrangler 4.164 (node_modules/wrangler/wrangler-dist/cli.js: src/user/whoami.ts,
// src/d1/{list,create}.ts, src/d1/migrations/{list,apply}.ts, src/queues/cli/commands/{info,create}.ts,
// consumer/http-pull/{add,list}.ts, src/secret/index.ts, the deploy output). Only what scripts/deploy calls.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'

export type FakeQueue = {
  queue_id: string
  queue_name: string
  consumers: (
    | { consumer_id: string; type: 'http_pull'; dead_letter_queue?: string; settings: Record<string, number | undefined> }
    | { consumer_id: string; type: 'worker'; script: string }
  )[]
}
export type FakeAccount = {
  loggedIn: boolean
  accounts: { id: string; name: string }[]
  email: string
  /** Per wrangler environment: what its config names (the fake does not read wrangler.toml). */
  envs: Record<string, { worker: string; database: string; migrationFiles: string[]; queues: string[] }>
  databases: { uuid: string; name: string; applied: string[] }[]
  queues: FakeQueue[]
  workers: Record<string, { secrets: string[]; versions: string[] }>
}

const BANNER = '\n ⛅️ wrangler 4.164.0\n───────────────────\n'
const statePath = process.env.FAKE_WRANGLER_STATE ?? ''
const state = JSON.parse(readFileSync(statePath, 'utf8')) as FakeAccount
const argv = process.argv.slice(2)
appendFileSync(process.env.FAKE_WRANGLER_CALLS ?? '', `${JSON.stringify({ argv, account: process.env.CLOUDFLARE_ACCOUNT_ID ?? null })}\n`)

const out = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
function fail(message: string): never {
  process.stderr.write(`\n✘ [ERROR] ${message}\n\n`)
  process.exit(1)
}
const save = () => writeFileSync(statePath, JSON.stringify(state, null, 2))
const flag = (name: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const envOf = () => {
  const name = flag('--env') ?? flag('-e') ?? ''
  const env = state.envs[name]
  if (!env) fail(`fake wrangler: no environment "${name}" in its state`)
  return env
}
/** cli-table3's box, as wrangler's logger.table prints it (no colours: stdout is not a TTY). */
const table = (head: string, rows: string[]) => {
  const width = Math.max(head.length, ...rows.map((r) => r.length)) + 2
  const bar = '─'.repeat(width)
  return [`┌${bar}┐`, `│ ${head.padEnd(width - 1)}│`, `├${bar}┤`, ...rows.map((r) => `│ ${r.padEnd(width - 1)}│`), `└${bar}┘`].join('\n')
}
/** requireAuth: logged in, and one account chosen (several and no CLOUDFLARE_ACCOUNT_ID: wrangler cannot prompt here). */
function requireLogin(): void {
  if (!state.loggedIn) fail("In a non-interactive environment, it's necessary to set a CLOUDFLARE_API_TOKEN environment variable for wrangler to work.")
  const chosen = process.env.CLOUDFLARE_ACCOUNT_ID
  if (chosen ? !state.accounts.some((a) => a.id === chosen) : state.accounts.length > 1) {
    fail(
      `More than one account available but unable to select one in non-interactive mode.\nPlease set the appropriate account ID in your wrangler.toml file or assign it to the \`CLOUDFLARE_ACCOUNT_ID\` environment variable.`,
    )
  }
}
const queueByName = (name: string) => state.queues.find((q) => q.queue_name === name)

const [cmd, sub, ...rest] = argv
const key = `${cmd} ${sub ?? ''}`.trim()

if (key === 'whoami --json') {
  if (!state.loggedIn) {
    out('\n{"loggedIn":false}')
    process.exit(1)
  }
  out(
    JSON.stringify(
      {
        loggedIn: true,
        authType: 'OAuth Token',
        email: state.email,
        accounts: state.accounts,
        tokenPermissions: ['account:read', 'workers:write', 'd1:write', 'queues:write'],
      },
      null,
      2,
    ),
  )
} else if (key === 'd1 list') {
  requireLogin()
  out(
    JSON.stringify(
      state.databases.map((db) => ({
        uuid: db.uuid,
        name: db.name,
        created_at: '2026-12-05T12:00:00.000Z',
        version: 'production',
        num_tables: 0,
        file_size: 12288,
      })),
      null,
      2,
    ),
  )
} else if (key === 'd1 create') {
  requireLogin()
  const name = rest[0] ?? fail('Not enough non-option arguments')
  if (state.databases.some((db) => db.name === name)) fail('A database with that name already exists')
  const uuid = randomUUID()
  state.databases.push({ uuid, name, applied: [] })
  save()
  out(
    `${BANNER}✅ Successfully created DB '${name}' in region WEUR\nCreated your new D1 database.\n\nTo access your new D1 Database in your Worker, add the following snippet to your configuration file:\n[[d1_databases]]\nbinding = "${name.replaceAll('-', '_')}"\ndatabase_name = "${name}"\ndatabase_id = "${uuid}"\n`,
  )
} else if (key === 'd1 migrations') {
  requireLogin()
  const [action] = rest
  const env = envOf()
  const db = state.databases.find((d) => d.name === env.database)
  if (!db) fail(`Couldn't find a D1 DB named '${env.database}' (bound as 'DB') in the API. Run 'wrangler d1 create ${env.database}' to create it.`)
  const pending = env.migrationFiles.filter((f) => !db.applied.includes(f))
  out(`${BANNER}Resource location: remote\n`)
  if (pending.length === 0) out('✅ No migrations to apply!')
  else if (action === 'list') out(`Migrations to be applied:\n${table('Name', pending)}`)
  else if (action === 'apply') {
    db.applied.push(...pending)
    save()
    out(
      `Migrations to be applied:\n${table('Name', pending)}\n${table(
        'Name       Status',
        pending.map((p) => `${p}  ✅`),
      )}`,
    )
  } else fail(`fake wrangler: d1 migrations ${action}`)
} else if (key === 'queues info') {
  requireLogin()
  const name = rest[0] ?? ''
  const q = queueByName(name) ?? fail(`Queue "${name}" does not exist. To create it, run: wrangler queues create ${name}`)
  out(
    `${BANNER}Queue Name: ${q.queue_name}\nQueue ID: ${q.queue_id}\nCreated On: 2026-12-05T12:00:00.000Z\nLast Modified: 2026-12-05T12:00:00.000Z\nNumber of Producers: 0\nNumber of Consumers: ${q.consumers.length}`,
  )
  if (q.consumers.length > 0) {
    out(
      `Consumers: ${q.consumers
        .map((c) =>
          c.type === 'http_pull'
            ? `HTTP Pull Consumer.\nPull messages using:\ncurl "https://api.cloudflare.com/client/v4/accounts/${state.accounts[0]?.id}/queues/${q.queue_id}/messages/pull" \\\n\t--header "Authorization: Bearer <add your api key here>" \\\n\t--header "Content-Type: application/json" \\\n\t--data '{ "visibility_timeout": 10000, "batch_size": 2 }'`
            : `worker:${c.script}`,
        )
        .toString()}`,
    )
  }
} else if (key === 'queues create') {
  requireLogin()
  const name = rest[0] ?? ''
  if (queueByName(name)) fail('A request to the Cloudflare API (/accounts/x/queues) failed.\n\n  Queue name already taken [code: 11009]')
  state.queues.push({ queue_id: randomUUID().replaceAll('-', ''), queue_name: name, consumers: [] })
  save()
  out(
    `${BANNER}🌀 Creating queue '${name}'\n✅ Created queue '${name}'\n\nConfigure your Worker to send messages to this queue:\n\n[[queues.producers]]\nqueue = "${name}"\nbinding = "${name.toUpperCase().replaceAll('-', '_')}"\n`,
  )
} else if (key === 'queues consumer' && rest[0] === 'http' && rest[1] === 'add') {
  requireLogin()
  const name = rest[2] ?? ''
  const q = queueByName(name) ?? fail(`Queue "${name}" does not exist. To create it, run: wrangler queues create ${name}`)
  if (q.consumers.length > 0) fail('A request to the Cloudflare API failed.\n\n  queue already has a consumer [code: 11005]')
  const num = (f: string) => (flag(f) === undefined ? undefined : Number(flag(f)))
  q.consumers.push({
    consumer_id: randomUUID().replaceAll('-', ''),
    type: 'http_pull',
    dead_letter_queue: flag('--dead-letter-queue'),
    settings: { batch_size: num('--batch-size'), max_retries: num('--message-retries'), visibility_timeout_ms: (num('--visibility-timeout-secs') ?? 0) * 1000 },
  })
  save()
  out(`${BANNER}Adding consumer to queue ${name}.\nAdded consumer to queue ${name}.`)
} else if (key === 'queues consumer' && rest[0] === 'http' && rest[1] === 'list') {
  requireLogin()
  const name = rest[2] ?? ''
  const q = queueByName(name) ?? fail(`Queue "${name}" does not exist. To create it, run: wrangler queues create ${name}`)
  out(
    JSON.stringify(
      q.consumers.filter((c) => c.type === 'http_pull'),
      null,
      2,
    ),
  )
} else if (key === 'secret list') {
  requireLogin()
  const env = envOf()
  const worker =
    state.workers[env.worker] ??
    fail(
      `Worker "${env.worker}" (env: ${flag('--env')}) not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.\nOtherwise, check that the Worker name is correct and you're logged into the right account.`,
    )
  out(
    JSON.stringify(
      worker.secrets.map((name) => ({ name, type: 'secret_text' })),
      null,
      '  ',
    ),
  )
} else if (cmd === 'deploy') {
  requireLogin()
  const env = envOf()
  // As wrangler does before uploading (ensureQueuesExistByConfig); a missing D1 would be provisioned, not refused.
  for (const name of env.queues) if (!queueByName(name)) fail(`Queue "${name}" does not exist. To create it, run: wrangler queues create ${name}`)
  const worker = (state.workers[env.worker] ??= { secrets: [], versions: [] })
  const versionId = randomUUID()
  worker.versions.push(versionId)
  save()
  out(
    `${BANNER}Total Upload: 1934.04 KiB / gzip: 314.93 KiB\nWorker Startup Time: 31 ms\nYour Worker has access to the following bindings:\nBinding                 Resource\nenv.DB (${env.database})   D1 Database\nUploaded ${env.worker} (4.02 sec)\nDeployed ${env.worker} triggers (1.10 sec)\n  https://${env.worker}.fake-sub.workers.dev\n  schedule: 5 * * * *\n  Producer for ${env.queues[0]}\n  Consumer for ${env.queues[0]}\nCurrent Version ID: ${versionId}`,
  )
} else {
  fail(`fake wrangler: unsupported command: ${argv.join(' ')}`)
}
