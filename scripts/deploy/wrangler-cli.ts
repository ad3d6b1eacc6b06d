// Runs the `wrangler` found on PATH (npm run puts node_modules/.bin first; the tests put a fake first) and reads
// its answers. Each parser names the wrangler 4.164 source it follows (node_modules/wrangler/wrangler-dist/cli.js,
// workers-sdk packages/wrangler/src/...), so a changed output shape fails here, loudly, not later.
import { spawn } from 'node:child_process'

export type WranglerResult = { status: number; stdout: string; stderr: string }
/** `echo` copies wrangler's output to this process's as it comes; `env` adds variables (e.g. CLOUDFLARE_ACCOUNT_ID). */
export type Wrangler = (args: string[], options?: { echo?: boolean; env?: Record<string, string> }) => Promise<WranglerResult>

/**
 * stdin is closed, so wrangler runs non-interactively (isNonInteractiveOrCI: no TTY): no prompt waits, `d1
 * migrations apply` skips its confirmation, and provisioning never writes ids back into wrangler.toml.
 */
export function wranglerOnPath(): Wrangler {
  return (args, options = {}) =>
    new Promise((resolve, reject) => {
      const child = spawn('wrangler', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString()
        if (options.echo) process.stdout.write(d)
      })
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
        if (options.echo) process.stderr.write(d)
      })
      child.on('error', (err) => reject(new Error(`cannot run wrangler (${err.message}): run through \`npm run deploy\` so node_modules/.bin is on PATH`)))
      child.on('close', (code) => resolve({ status: code ?? 1, stdout, stderr }))
    })
}

/** `wrangler whoami --json` (src/user/whoami.ts): `{loggedIn: true, accounts: [{id, name}], ...}`, or `{"loggedIn":false}` and exit 1. */
export function parseWhoami(result: WranglerResult): { loggedIn: false } | { loggedIn: true; email?: string; accounts: { id: string; name: string }[] } {
  const json = lastJsonValue(result.stdout)
  if (result.status !== 0 || !isRecord(json) || json.loggedIn !== true) return { loggedIn: false }
  const accounts = Array.isArray(json.accounts) ? json.accounts.filter(isRecord).map((a) => ({ id: String(a.id), name: String(a.name) })) : []
  return { loggedIn: true, email: typeof json.email === 'string' ? json.email : undefined, accounts }
}

/** `wrangler d1 list --json` (src/d1/list.ts): the API's database objects, `[{uuid, name, created_at, ...}]`. */
export function parseD1List(stdout: string): { uuid: string; name: string }[] {
  const json = lastJsonValue(stdout)
  if (!Array.isArray(json)) throw new Error(`unexpected \`wrangler d1 list --json\` output:\n${stdout}`)
  return json.filter(isRecord).map((db) => ({ uuid: String(db.uuid), name: String(db.name) }))
}

/** `wrangler d1 create` prints a config snippet with `database_id = "<uuid>"` (TOML) or `"database_id": "<uuid>"` (src/d1/create.ts). */
export function parseD1CreateId(stdout: string): string | undefined {
  return /"?database_id"?\s*[=:]\s*"([0-9a-f-]{36})"/.exec(stdout)?.[1]
}

export type QueueInfo = { id: string; workerConsumers: string[] }

/**
 * `wrangler queues info <name>` (src/queues/cli/commands/info.ts): `Queue ID: <id>` and, with consumers,
 * `Consumers: HTTP Pull Consumer.` / `worker:<script>`. A missing queue is an error whose text says
 * `Queue "<name>" does not exist.` (deploy-helpers src/triggers/queue-consumers.ts, getQueue): undefined then.
 */
export function parseQueueInfo(name: string, result: WranglerResult): QueueInfo | undefined {
  if (result.status !== 0) {
    if (/does not exist/.test(result.stdout + result.stderr)) return undefined
    throw new Error(`wrangler queues info ${name} failed:\n${result.stderr || result.stdout}`)
  }
  const id = /^Queue ID: (\S+)/m.exec(result.stdout)?.[1]
  if (!id) throw new Error(`unexpected \`wrangler queues info\` output (no "Queue ID:"):\n${result.stdout}`)
  // wrangler shows the first queue the API's name filter returns; make sure it is this one.
  const shown = /^Queue Name: (\S+)/m.exec(result.stdout)?.[1]
  if (shown !== name) throw new Error(`\`wrangler queues info ${name}\` answered for queue ${shown ?? '(none)'}`)
  const consumersLine = /^Consumers: (.*)$/m.exec(result.stdout)?.[1] ?? ''
  return {
    id,
    workerConsumers: [...consumersLine.matchAll(/worker:([\w-]+)/g)].map((m) => m[1] ?? ''),
  }
}

export type HttpPullConsumer = { deadLetterQueue?: string; batchSize?: number; maxRetries?: number; visibilityTimeoutMs?: number }

/**
 * `wrangler queues consumer http list <queue> --json` (src/queues/cli/commands/consumer/http-pull/list.ts): the API's
 * http_pull consumers, `[{consumer_id, type, dead_letter_queue?, settings: {batch_size, max_retries, visibility_timeout_ms}}]`.
 */
export function parseHttpConsumers(stdout: string): HttpPullConsumer[] {
  const json = lastJsonValue(stdout)
  if (!Array.isArray(json)) throw new Error(`unexpected \`wrangler queues consumer http list --json\` output:\n${stdout}`)
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined)
  return json.filter(isRecord).map((c) => {
    const settings = isRecord(c.settings) ? c.settings : {}
    return {
      deadLetterQueue: typeof c.dead_letter_queue === 'string' && c.dead_letter_queue ? c.dead_letter_queue : undefined,
      batchSize: num(settings.batch_size),
      maxRetries: num(settings.max_retries),
      visibilityTimeoutMs: num(settings.visibility_timeout_ms),
    }
  })
}

/**
 * `wrangler d1 migrations list <db> --remote` (src/d1/migrations/list.ts): `✅ No migrations to apply!`, or
 * `Migrations to be applied:` and a table of file names.
 */
export function parsePendingMigrations(stdout: string): string[] {
  if (/No migrations to apply/.test(stdout)) return []
  if (!/Migrations to be applied/.test(stdout)) throw new Error(`unexpected \`wrangler d1 migrations list\` output:\n${stdout}`)
  return [...stdout.matchAll(/([\w.-]+\.sql)\b/g)].map((m) => m[1] ?? '')
}

/**
 * `wrangler secret list --format json` (src/secret/index.ts): `[{name, type}]`, names only. A Worker not created
 * yet is an error `Worker "<name>" (env: <env>) not found.`: no secret is set then.
 */
export function parseSecretList(result: WranglerResult): string[] {
  if (result.status !== 0) {
    if (/Worker ".*".* not found/.test(result.stdout + result.stderr)) return []
    throw new Error(`wrangler secret list failed:\n${result.stderr || result.stdout}`)
  }
  const json = lastJsonValue(result.stdout)
  if (!Array.isArray(json)) throw new Error(`unexpected \`wrangler secret list\` output:\n${result.stdout}`)
  return json.filter(isRecord).map((s) => String(s.name))
}

/**
 * `wrangler deploy` (wrangler-dist/cli.js, the deploy-helpers triggers and deploy steps): `Deployed <name> triggers (x sec)`, one target
 * per line, workers.dev ones as `https://<name>.<subdomain>.workers.dev`, then `Current Version ID: <id>`.
 */
export function parseDeploy(stdout: string): { url?: string; versionId?: string } {
  return {
    url: /^\s+(https:\/\/\S+\.workers\.dev)\s*$/m.exec(stdout)?.[1],
    versionId: /^Current Version ID: (\S+)/m.exec(stdout)?.[1],
  }
}

/** wrangler prints a banner before some JSON answers: the JSON is the output's last `{`/`[`-started block. */
function lastJsonValue(stdout: string): unknown {
  const trimmed = stdout.trim()
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed[i]
    if ((c === '{' || c === '[') && (i === 0 || trimmed[i - 1] === '\n')) {
      try {
        return JSON.parse(trimmed.slice(i))
      } catch {
        /* not the start of the JSON value */
      }
    }
  }
  return undefined
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
