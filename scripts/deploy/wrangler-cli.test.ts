// The parsers of wrangler's answers, on output captured in the shapes wrangler 4.164 prints (see wrangler-cli.ts).
import { describe, expect, it } from 'vitest'
import { parseD1CreateId, parseDeploy, parseHttpConsumers, parsePendingMigrations, parseQueueInfo, parseSecretList, parseWhoami } from './wrangler-cli.ts'

const ok = (stdout: string) => ({ status: 0, stdout, stderr: '' })
const failed = (stderr: string) => ({ status: 1, stdout: '', stderr })

describe('wrangler output parsers', () => {
  it('reads the workers.dev URL and version from wrangler deploy, ignoring other targets', () => {
    const out =
      'Total Upload: 1934.04 KiB / gzip: 314.93 KiB\nUploaded cic-gateway-staging (4.02 sec)\nDeployed cic-gateway-staging triggers (1.10 sec)\n  https://cic-gateway-staging.acme.workers.dev\n  schedule: 5 * * * *\n  Producer for cic-staging-usage-events\nCurrent Version ID: 6f1d7c1e-0000-4000-8000-000000000001\n'
    expect(parseDeploy(out)).toEqual({ url: 'https://cic-gateway-staging.acme.workers.dev', versionId: '6f1d7c1e-0000-4000-8000-000000000001' })
    expect(parseDeploy('Deployed x triggers (1.00 sec)\n  api.example.com/*\nCurrent Version ID: v').url).toBeUndefined()
  })

  it('tells a logged-out whoami, and reads accounts after a banner', () => {
    expect(parseWhoami({ status: 1, stdout: '\n{"loggedIn":false}\n', stderr: '' })).toEqual({ loggedIn: false })
    expect(parseWhoami(ok('\n ⛅️ wrangler 4.164.0\n{\n  "loggedIn": true,\n  "email": "a@b.c",\n  "accounts": [{ "id": "x1", "name": "A" }]\n}\n'))).toEqual({
      loggedIn: true,
      email: 'a@b.c',
      accounts: [{ id: 'x1', name: 'A' }],
    })
  })

  it('reads a queue, its consumers, and a missing queue', () => {
    expect(parseQueueInfo('q', ok('Queue Name: q\nQueue ID: abc123\nNumber of Consumers: 1\nConsumers: worker:cic-gateway-staging\n'))).toEqual({
      id: 'abc123',
      workerConsumers: ['cic-gateway-staging'],
    })
    expect(
      parseQueueInfo('q', ok('Queue Name: q\nQueue ID: abc123\nNumber of Consumers: 1\nConsumers: HTTP Pull Consumer.\nPull messages using:\n'))
        ?.workerConsumers,
    ).toEqual([])
    expect(() => parseQueueInfo('q', ok('Queue Name: q-dlq\nQueue ID: abc123\n'))).toThrow(/answered for queue q-dlq/)
    expect(parseQueueInfo('q', failed('✘ [ERROR] Queue "q" does not exist. To create it, run: wrangler queues create q'))).toBeUndefined()
    expect(() => parseQueueInfo('q', failed('✘ [ERROR] Authentication error [code: 10000]'))).toThrow(/Authentication error/)
  })

  it('reads the pull consumers of a queue', () => {
    const out =
      '[\n  {\n    "consumer_id": "c1",\n    "type": "http_pull",\n    "dead_letter_queue": "cic-staging-node-ops-dlq",\n    "settings": { "batch_size": 4, "max_retries": 100, "visibility_timeout_ms": 4500000 }\n  }\n]'
    expect(parseHttpConsumers(out)).toEqual([{ deadLetterQueue: 'cic-staging-node-ops-dlq', batchSize: 4, maxRetries: 100, visibilityTimeoutMs: 4_500_000 }])
    expect(parseHttpConsumers('[]')).toEqual([])
  })

  it('reads pending migrations from the table, and none', () => {
    expect(
      parsePendingMigrations(
        'Resource location: remote\nMigrations to be applied:\n┌──────────────┐\n│ Name         │\n├──────────────┤\n│ 0003_a.sql   │\n│ 0004_b.sql   │\n└──────────────┘\n',
      ),
    ).toEqual(['0003_a.sql', '0004_b.sql'])
    expect(parsePendingMigrations('✅ No migrations to apply!')).toEqual([])
    expect(() => parsePendingMigrations('something else')).toThrow(/unexpected/)
  })

  it('reads secret names, and a Worker not created yet as none set', () => {
    expect(parseSecretList(ok('[\n  {\n    "name": "ADMIN_TOKEN",\n    "type": "secret_text"\n  }\n]'))).toEqual(['ADMIN_TOKEN'])
    expect(parseSecretList(failed('✘ [ERROR] Worker "cic-gateway-staging" (env: staging) not found.'))).toEqual([])
  })

  it('reads the id d1 create prints in its config snippet', () => {
    expect(
      parseD1CreateId('[[d1_databases]]\nbinding = "cic_staging"\ndatabase_name = "cic-staging"\ndatabase_id = "0a1b2c3d-0000-4000-8000-000000000000"\n'),
    ).toBe('0a1b2c3d-0000-4000-8000-000000000000')
  })
})
