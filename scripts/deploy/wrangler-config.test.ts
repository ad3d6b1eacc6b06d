// wrangler.toml read as wrangler resolves each environment (unstable_readConfig): every deployed env repeats what the
// top level declares (non-inheritable keys), names its queues by the rule queue() dispatches on, gives every Worker
// consumer a handler, and stays account-neutral.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { unstable_readConfig } from 'wrangler'
import { AUTH_FAILURE_LIMIT, AUTH_FAILURE_PERIOD_SECONDS } from '../../workers/src/services/keys/auth-failures.ts'
import { QUEUE_ROLES, queueName, queueRole, workerConsumedRole } from '../../workers/src/queue-names.ts'
import { DEPLOYED_ENVIRONMENTS, ROOT, readTarget } from './target.ts'

const CONFIG = path.join(ROOT, 'wrangler.toml')
const read = (env?: string) => unstable_readConfig({ config: CONFIG, env })
type Consumer = { queue: string; dead_letter_queue?: string; max_retries?: number; max_batch_size?: number }
type Producer = { binding: string; queue: string }
const consumers = (c: ReturnType<typeof read>) => (c.queues.consumers ?? []) as Consumer[]
const producers = (c: ReturnType<typeof read>) => (c.queues.producers ?? []) as Producer[]
const names = <T>(items: T[], pick: (t: T) => string) => items.map(pick).sort()
const objects = (c: ReturnType<typeof read>) => names(c.durable_objects.bindings as { name: string; class_name: string }[], (b) => `${b.name}:${b.class_name}`)

describe('queue names', () => {
  it('are the bare role locally and cic-<env>-<role> deployed, and map back only in their own environment', () => {
    expect(queueName('usage-events', 'test')).toBe('usage-events')
    expect(queueName('usage-events', 'development')).toBe('usage-events')
    expect(queueName('node-ops-dlq', 'staging')).toBe('cic-staging-node-ops-dlq')
    expect(queueName('usage-events', undefined)).toBe('cic-production-usage-events')
    for (const env of ['development', 'staging', 'production']) {
      for (const role of QUEUE_ROLES) expect(queueRole(queueName(role, env), env)).toBe(role)
    }
    expect(queueRole('cic-staging-usage-events', 'production')).toBeUndefined()
    expect(queueRole('usage-events', 'production')).toBeUndefined()
    expect(queueRole('cic-production-usage-events', 'development')).toBeUndefined()
  })
})

describe('wrangler.toml environments', () => {
  const top = read()
  const envs = [['top level', top] as const, ...DEPLOYED_ENVIRONMENTS.map((env) => [env, read(env)] as const)]

  it.each(envs)('%s: every Worker consumer queue resolves to a handler, every producer to a role', (_name, config) => {
    const environment = config.vars.ENVIRONMENT as string
    for (const c of consumers(config)) {
      expect(workerConsumedRole(c.queue, environment), c.queue).toBeDefined()
      if (c.dead_letter_queue) expect(queueRole(c.dead_letter_queue, environment), c.dead_letter_queue).toBeDefined()
    }
    for (const p of producers(config)) expect(queueRole(p.queue, environment), p.queue).toBeDefined()
  })

  it.each(DEPLOYED_ENVIRONMENTS)('%s repeats every binding, var, cron and consumer of the top level, under its own names', (env) => {
    const config = read(env)
    expect(config.vars.ENVIRONMENT).toBe(env)
    expect(Object.keys(config.vars).sort()).toEqual(Object.keys(top.vars).sort())
    expect(names(producers(config), (p) => p.binding)).toEqual(names(producers(top), (p) => p.binding))
    for (const p of producers(config))
      expect(queueRole(p.queue, env)).toBe(queueRole(producers(top).find((t) => t.binding === p.binding)?.queue ?? '', 'development'))
    // Worker consumers: the top level's, with the same settings; node-ops has orchestrator-runner's pull consumer instead.
    const expected = consumers(top)
      .filter((c) => c.queue !== 'node-ops')
      .map((c) => ({
        ...c,
        queue: queueName(queueRole(c.queue, 'development') ?? 'usage-events', env),
        ...(c.dead_letter_queue ? { dead_letter_queue: queueName(queueRole(c.dead_letter_queue, 'development') ?? 'usage-events', env) } : {}),
      }))
    expect(consumers(config)).toEqual(expected)
    expect(consumers(config).map((c) => c.queue)).not.toContain(queueName('node-ops', env))
    expect(objects(config)).toEqual(objects(top))
    expect(config.migrations).toEqual(top.migrations) // [[migrations]] are inherited, never repeated
    expect(config.triggers.crons).toEqual(top.triggers.crons)
    expect(
      (config.d1_databases as { binding: string; database_name?: string; migrations_dir?: string }[]).map((d) => [
        d.binding,
        d.database_name,
        d.migrations_dir,
      ]),
    ).toEqual([['DB', `cic-${env}`, 'd1-migrations']])
    expect(config.observability?.enabled).toBe(true)
    expect(
      readTarget(env)
        .queues.map((q) => q.role)
        .sort(),
    ).toEqual([...QUEUE_ROLES].sort())
  })

  it('staging and production share no queue and no database', () => {
    const [staging, production] = DEPLOYED_ENVIRONMENTS.map((env) => readTarget(env))
    expect(staging?.queues.filter((q) => production?.queues.some((p) => p.name === q.name))).toEqual([])
    expect(staging?.database.name).not.toBe(production?.database.name)
  })

  it('gives every env the AUTH_FAILURES rate limit the code assumes, each under its own namespace_id', () => {
    const limits = envs.map(([, config]) =>
      (config.ratelimits as { name: string; namespace_id: string; simple: object }[]).find((r) => r.name === 'AUTH_FAILURES'),
    )
    for (const r of limits) expect(r?.simple).toEqual({ limit: AUTH_FAILURE_LIMIT, period: AUTH_FAILURE_PERIOD_SECONDS })
    expect(new Set(limits.map((r) => r?.namespace_id)).size).toBe(envs.length)
  })

  it('holds no database_id (account-neutral: wrangler resolves database_name)', () => {
    expect(readFileSync(CONFIG, 'utf8')).not.toMatch(/^\s*database_id\s*=/m)
  })
})
