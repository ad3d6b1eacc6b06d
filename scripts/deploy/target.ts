// What one deployed environment consists of, read from wrangler.toml with wrangler's own config reader (so env
// inheritance is resolved exactly as `wrangler deploy --env X` resolves it): the Worker, its D1 database, every
// queue (producers, consumers, their dead-letter queues, and the node-ops pull consumer with its DLQ), the secrets
// it needs. Reads only local files; used by the deploy script, its --dry-run and the config tests.
//
// Verified in wrangler 4.164's source (node_modules/wrangler/wrangler-dist/cli.js; workers-sdk packages/wrangler):
// - `wrangler deploy` with a D1 binding that has database_name and no database_id: provisionBindings runs by default
//   (`--experimental-provision` defaults to true); D1Handler.isFullySpecified() is false without database_id, so it
//   inherits the deployed Worker's binding of that name if its database has that name, else looks the name up
//   (GET /accounts/:id/d1/database/:name), else creates a database of that name (provision-bindings.ts). With any
//   database_id set, none of this happens. In a non-interactive run it never writes ids back into wrangler.toml.
// - `wrangler d1 migrations list|apply <binding> --remote --env X`: getDatabaseInfoFromConfig gives no uuid, then
//   getDatabaseByNameOrBinding looks database_name up through the API (src/d1/utils.ts): no id needed either.
// - `[[migrations]]` is inheritable; vars, d1_databases, queues, durable_objects, triggers are not (config
//   validation: inheritable / notInheritable). Locally (wrangler dev, d1 --local, vitest) D1 state is keyed by
//   `database_id ?? binding` (d1DatabaseEntry, executeLocally): "DB" without an id, the same for all three.
// - `wrangler deploy` uploads a new Worker version on every run; nothing compares it with the deployed one.
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { unstable_readConfig } from 'wrangler'
import { type QueueRole, queueName, queueRole } from '../../workers/src/queue-names.ts'
import { type DeployedEnvironment, requiredSecretNames } from '../../workers/src/secrets.ts'

export const ROOT = path.resolve(import.meta.dirname, '..', '..')
export const DEPLOYED_ENVIRONMENTS: readonly DeployedEnvironment[] = ['staging', 'production']

/**
 * The node-ops HTTP pull consumer (orchestrator-runner/README.md "Production setup"). Retries: Queues' maximum
 * (100, `queues/platform/limits.mdx`), above the runner's MAX_LAUNCH_ATTEMPTS (6). Visibility: longer than the
 * runner's worst launch (45 min launch + 2 x 3 min status + 20 min down = 71 min, orchestrator-runner/src/config.ts);
 * the runner also sends its own visibility_timeout_ms with each pull.
 */
export const PULL_CONSUMER = { role: 'node-ops', deadLetterRole: 'node-ops-dlq', batchSize: 4, messageRetries: 100, visibilityTimeoutSecs: 4500 } as const

export type DeployQueue = { name: string; role: QueueRole }
export type DeployTarget = {
  environment: DeployedEnvironment
  configPath: string
  workerName: string
  database: { binding: string; name: string; migrationsDir: string }
  /** Every queue the environment uses, each once, in a stable order. */
  queues: DeployQueue[]
  pullConsumer: { queue: string; deadLetterQueue: string; batchSize: number; messageRetries: number; visibilityTimeoutSecs: number }
  /** Migration files in the database's migrations_dir, in the order wrangler applies them. */
  migrationFiles: string[]
  requiredSecrets: string[]
}

export function isDeployedEnvironment(value: string | undefined): value is DeployedEnvironment {
  return DEPLOYED_ENVIRONMENTS.some((env) => env === value)
}

export function readTarget(environment: DeployedEnvironment, configPath = path.join(ROOT, 'wrangler.toml')): DeployTarget {
  const config = unstable_readConfig({ config: configPath, env: environment })
  const envVar = config.vars.ENVIRONMENT
  if (envVar !== environment) throw new Error(`[env.${environment}] must set vars.ENVIRONMENT = "${environment}" (found ${JSON.stringify(envVar)})`)
  const [d1, ...extraD1] = config.d1_databases
  if (!d1 || extraD1.length > 0 || !d1.database_name) throw new Error(`[env.${environment}] needs exactly one d1_databases entry with a database_name`)
  if (d1.database_id)
    throw new Error(`[env.${environment}] d1 binding ${d1.binding} has a database_id: keep the repository account-neutral (wrangler resolves database_name)`)
  const migrationsDir = path.resolve(path.dirname(configPath), d1.migrations_dir ?? 'migrations')

  const names = [
    ...(config.queues.producers ?? []).map((p: { queue?: string }) => p.queue),
    ...(config.queues.consumers ?? []).flatMap((c: { queue: string; dead_letter_queue?: string }) => [c.queue, c.dead_letter_queue]),
    queueName(PULL_CONSUMER.role, environment),
    queueName(PULL_CONSUMER.deadLetterRole, environment),
  ].filter((name): name is string => typeof name === 'string' && name.length > 0)
  const queues = [...new Set(names)].map((name) => {
    const role = queueRole(name, environment)
    if (!role) throw new Error(`[env.${environment}] queue "${name}" does not follow the naming rule cic-${environment}-<role> (workers/src/queue-names.ts)`)
    return { name, role }
  })

  return {
    environment,
    configPath,
    workerName: config.name ?? '',
    database: { binding: d1.binding, name: d1.database_name, migrationsDir },
    queues,
    pullConsumer: {
      queue: queueName(PULL_CONSUMER.role, environment),
      deadLetterQueue: queueName(PULL_CONSUMER.deadLetterRole, environment),
      batchSize: PULL_CONSUMER.batchSize,
      messageRetries: PULL_CONSUMER.messageRetries,
      visibilityTimeoutSecs: PULL_CONSUMER.visibilityTimeoutSecs,
    },
    migrationFiles: readdirSync(migrationsDir)
      .filter((f) => f.endsWith('.sql'))
      .sort(),
    requiredSecrets: requiredSecretNames(environment),
  }
}
