// `npm run deploy` end to end against a fake `wrangler` first on PATH (test/fake-wrangler.ts: records argv, keeps
// an account in a JSON file, answers in wrangler 4.164's output shapes) and a local HTTP server standing in for the
// deployed Worker: --dry-run touches nothing, a first run creates everything, a second creates nothing and applies
// no migration, a missing secret or login stops before `wrangler deploy`. Also bundles both environments for real.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requiredSecretNames } from '../../workers/src/secrets.ts'
import { DEPLOYED_ENVIRONMENTS, ROOT, readTarget } from './target.ts'
import type { FakeAccount } from './test/fake-wrangler.ts'

const MAIN = path.join(ROOT, 'scripts', 'deploy', 'main.ts')
const FAKE = path.join(ROOT, 'scripts', 'deploy', 'test', 'fake-wrangler.ts')
const ADMIN_TOKEN = 'smoke-admin-token-0123456789abcdef0123456789'

type Run = { status: number; stdout: string; stderr: string; calls: string[][]; accounts: (string | null)[] }

/** A directory holding a `wrangler` shim (execs the fake with this Node), its account state and its call log. */
function fakeAccount(account: FakeAccount) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cic-deploy-'))
  writeFileSync(path.join(dir, 'wrangler'), `#!/bin/sh\nexec "${process.execPath}" "${FAKE}" "$@"\n`)
  chmodSync(path.join(dir, 'wrangler'), 0o755)
  const statePath = path.join(dir, 'state.json')
  writeFileSync(statePath, JSON.stringify(account))
  const callsPath = path.join(dir, 'calls.jsonl')
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<Run>((resolve) => {
      writeFileSync(callsPath, '')
      const child = spawn(process.execPath, [MAIN, ...args], {
        cwd: ROOT,
        // A fresh machine: no wrangler login (HOME is empty), no API token or account in the environment.
        env: { PATH: `${dir}:${process.env.PATH}`, HOME: dir, FAKE_WRANGLER_STATE: statePath, FAKE_WRANGLER_CALLS: callsPath, ...env },
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString()
      })
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
      })
      child.on('close', (code) => {
        const logged = readFileSync(callsPath, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { argv: string[]; account: string | null })
        resolve({ status: code ?? 1, stdout, stderr, calls: logged.map((c) => c.argv), accounts: logged.map((c) => c.account) })
      })
    })
  return { run, state: () => JSON.parse(readFileSync(statePath, 'utf8')) as FakeAccount, close: () => rmSync(dir, { recursive: true, force: true }) }
}

/** A new Cloudflare account: logged in, nothing created, the Worker's secrets set (`wrangler secret put` made a draft). */
function newAccount(secrets = requiredSecretNames('staging')): FakeAccount {
  const envs = Object.fromEntries(
    DEPLOYED_ENVIRONMENTS.map((env) => {
      const t = readTarget(env)
      return [env, { worker: t.workerName, database: t.database.name, migrationFiles: t.migrationFiles, queues: t.queues.map((q) => q.name) }]
    }),
  )
  return {
    loggedIn: true,
    email: 'ops@example.com',
    accounts: [{ id: 'acc0123456789abcdef', name: 'CIC' }],
    envs,
    databases: [],
    queues: [],
    workers: { 'cic-gateway-staging': { secrets, versions: [] } },
  }
}

const joined = (calls: string[][]) => calls.map((c) => c.join(' '))
const creates = (calls: string[][]) => joined(calls).filter((c) => / create |^queues create|consumer http add|migrations apply/.test(` ${c}`))

let server: Server
let smokeUrl = ''
const smokeRequests: { path: string; authorization?: string }[] = []
beforeAll(async () => {
  server = createServer((req, res) => {
    smokeRequests.push({ path: req.url ?? '', authorization: req.headers.authorization })
    if (req.url === '/health') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
    if (req.url === '/admin/tenants' && req.headers.authorization === `Bearer ${ADMIN_TOKEN}`) return void res.writeHead(200).end('{"data":[]}')
    res.writeHead(401).end('{"error":{"type":"authentication_error"}}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  smokeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

describe('npm run deploy -- --dry-run', () => {
  it.each(DEPLOYED_ENVIRONMENTS)('prints the whole plan for %s with no login, calling wrangler not once', async (env) => {
    const fake = fakeAccount({ ...newAccount(), loggedIn: false })
    try {
      const { status, stdout, calls } = await fake.run(['--env', env, '--dry-run'])
      expect(status).toBe(0)
      expect(calls).toEqual([])
      const t = readTarget(env)
      for (const text of [
        t.workerName,
        `wrangler d1 create cic-${env}`,
        ...t.queues.map((q) => q.name),
        ...t.requiredSecrets,
        `wrangler deploy --env ${env}`,
        t.migrationFiles.at(-1) ?? '',
      ]) {
        expect(stdout).toContain(text)
      }
      expect(stdout).toContain(
        `wrangler queues consumer http add cic-${env}-node-ops --batch-size 4 --message-retries 100 --dead-letter-queue cic-${env}-node-ops-dlq --visibility-timeout-secs 4500`,
      )
    } finally {
      fake.close()
    }
  })

  it('refuses an environment that is not deployed', async () => {
    const fake = fakeAccount(newAccount())
    try {
      const { status, stderr, calls } = await fake.run(['--env', 'development', '--dry-run'])
      expect(status).toBe(2)
      expect(stderr).toContain('--env must be one of staging, production')
      expect(calls).toEqual([])
    } finally {
      fake.close()
    }
  })
})

describe('npm run deploy against an account (fake wrangler)', () => {
  it('creates everything on a new account and deploys; a second run creates nothing and applies no migration', async () => {
    const fake = fakeAccount(newAccount())
    try {
      const first = await fake.run(['--env', 'staging', '--url', smokeUrl], { ADMIN_TOKEN })
      expect(first.stderr).not.toContain('deploy stopped')
      expect(first.status).toBe(0)
      expect(creates(first.calls)).toEqual([
        'd1 create cic-staging',
        'queues create cic-staging-usage-events',
        'queues create cic-staging-usage-events-dlq',
        'queues create cic-staging-node-ops',
        'queues create cic-staging-node-ops-dlq',
        'queues consumer http add cic-staging-node-ops --batch-size 4 --message-retries 100 --dead-letter-queue cic-staging-node-ops-dlq --visibility-timeout-secs 4500',
        'd1 migrations apply DB --remote --env staging',
      ])
      // Secrets are checked before the deploy, the deploy is the last wrangler call.
      const calls = joined(first.calls)
      // After whoami, every call acts on the login's one account, named explicitly (never a wrangler prompt).
      expect(new Set(first.accounts.slice(1))).toEqual(new Set(['acc0123456789abcdef']))
      expect(calls.indexOf('secret list --format json --env staging')).toBeLessThan(calls.indexOf('deploy --env staging'))
      expect(calls.at(-1)).toBe('deploy --env staging')
      const state = fake.state()
      expect(state.databases.find((db) => db.name === 'cic-staging')?.applied).toEqual(readTarget('staging').migrationFiles)
      expect(state.queues.find((q) => q.queue_name === 'cic-staging-node-ops')?.consumers).toEqual([
        {
          consumer_id: expect.any(String),
          type: 'http_pull',
          dead_letter_queue: 'cic-staging-node-ops-dlq',
          settings: { batch_size: 4, max_retries: 100, visibility_timeout_ms: 4_500_000 },
        },
      ])
      // Smoke test, and what the runner needs: the account and the node-ops queue's id from the account.
      expect(smokeRequests).toContainEqual({ path: '/admin/tenants', authorization: `Bearer ${ADMIN_TOKEN}` })
      const nodeOpsId = state.queues.find((q) => q.queue_name === 'cic-staging-node-ops')?.queue_id ?? 'missing'
      expect(first.stdout).toContain(`CLOUDFLARE_QUEUE_ID=${nodeOpsId}`)
      expect(first.stdout).toContain('CLOUDFLARE_ACCOUNT_ID=acc0123456789abcdef')
      expect(first.stdout).toContain(`CONTROL_PLANE_URL=${smokeUrl}`)

      const second = await fake.run(['--env', 'staging', '--url', smokeUrl])
      expect(second.status).toBe(0)
      expect(creates(second.calls)).toEqual([])
      expect(second.stdout).toContain('created: nothing')
      expect(second.stdout).toContain('migrations applied: none')
      expect(second.stdout).toContain('admin smoke call skipped')
      // `wrangler deploy` runs again: it uploads a new Worker version each time (wrangler does not compare bundles).
      expect(fake.state().workers['cic-gateway-staging']?.versions).toHaveLength(2)
    } finally {
      fake.close()
    }
  })

  it('refuses a node-ops pull consumer that dead-letters elsewhere, and leaves it alone', async () => {
    const account = newAccount()
    const names = readTarget('staging').queues.map((q) => q.name)
    account.queues = names.map((name, i) => ({ queue_id: `q${i}`, queue_name: name, consumers: [] }))
    account.queues
      .find((q) => q.queue_name === 'cic-staging-node-ops')
      ?.consumers.push({
        consumer_id: 'c1',
        type: 'http_pull',
        dead_letter_queue: 'node-ops-dlq',
        settings: { batch_size: 4, max_retries: 100, visibility_timeout_ms: 4_500_000 },
      })
    const fake = fakeAccount(account)
    try {
      const { status, stderr, calls } = await fake.run(['--env', 'staging', '--url', smokeUrl])
      expect(status).toBe(1)
      expect(stderr).toContain('sends dead letters to node-ops-dlq, not cic-staging-node-ops-dlq')
      expect(stderr).toContain('npx wrangler queues consumer http remove cic-staging-node-ops')
      expect(creates(calls)).toEqual(['d1 create cic-staging'])
      expect(joined(calls)).not.toContain('deploy --env staging')
    } finally {
      fake.close()
    }
  })

  it('stops before wrangler deploy, naming each secret that is not set', async () => {
    const fake = fakeAccount(newAccount(requiredSecretNames('staging').filter((name) => name !== 'STRIPE_WEBHOOK_SECRET')))
    try {
      const { status, stderr, calls } = await fake.run(['--env', 'staging', '--url', smokeUrl])
      expect(status).toBe(1)
      expect(stderr).toContain('secrets not set for staging: STRIPE_WEBHOOK_SECRET.')
      expect(stderr).toContain('npx wrangler secret put STRIPE_WEBHOOK_SECRET --env staging')
      expect(joined(calls)).not.toContain('deploy --env staging')
    } finally {
      fake.close()
    }
  })

  it('on a Worker that does not exist yet, asks for every secret', async () => {
    const fake = fakeAccount({ ...newAccount(), workers: {} })
    try {
      const { status, stderr, calls } = await fake.run(['--env', 'staging'])
      expect(status).toBe(1)
      expect(stderr).toContain(`secrets not set for staging: ${requiredSecretNames('staging').join(', ')}.`)
      expect(joined(calls)).not.toContain('deploy --env staging')
    } finally {
      fake.close()
    }
  })

  it('stops at once when wrangler is not logged in', async () => {
    const fake = fakeAccount({ ...newAccount(), loggedIn: false })
    try {
      const { status, stderr, calls } = await fake.run(['--env', 'production'])
      expect(status).toBe(1)
      expect(stderr).toContain('wrangler is not logged in: run `npx wrangler login`')
      expect(calls).toEqual([['whoami', '--json']])
    } finally {
      fake.close()
    }
  })

  it('asks for CLOUDFLARE_ACCOUNT_ID when the login has several accounts, and passes it to every wrangler call', async () => {
    const fake = fakeAccount({
      ...newAccount(),
      accounts: [
        { id: 'acc-one', name: 'One' },
        { id: 'acc-two', name: 'Two' },
      ],
    })
    try {
      const stopped = await fake.run(['--env', 'staging'])
      expect(stopped.status).toBe(1)
      expect(stopped.stderr).toContain('set CLOUDFLARE_ACCOUNT_ID')
      expect(stopped.calls).toEqual([['whoami', '--json']])
      // The fake refuses, as wrangler does, any account call without one account chosen.
      const chosen = await fake.run(['--env', 'staging', '--url', smokeUrl], { CLOUDFLARE_ACCOUNT_ID: 'acc-two' })
      expect(chosen.stderr).not.toContain('deploy stopped')
      expect(chosen.stdout).toContain('CLOUDFLARE_ACCOUNT_ID=acc-two')
    } finally {
      fake.close()
    }
  })
})

describe('the deployed environments bundle', () => {
  it.each(DEPLOYED_ENVIRONMENTS)('wrangler deploy --dry-run --env %s binds its own database and queues', (env) => {
    const outdir = mkdtempSync(path.join(tmpdir(), `cic-bundle-${env}-`))
    try {
      const result = spawnSync(
        process.execPath,
        [path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'deploy', '--dry-run', '--env', env, '--outdir', outdir],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } },
      )
      expect(result.status, result.stderr).toBe(0)
      expect(result.stdout).toContain(`env.DB (cic-${env})`)
      expect(result.stdout).toContain(`env.USAGE_EVENTS (cic-${env}-usage-events)`)
      expect(result.stdout).toContain(`env.ENVIRONMENT ("${env}")`)
      expect(result.stderr).not.toMatch(/WARNING/)
    } finally {
      rmSync(outdir, { recursive: true, force: true })
    }
  })
})
