// Queue names per environment, and which handler a batch's queue belongs to. Queue names are account-global, so a
// deployed environment prefixes its queues (`cic-<env>-<role>`, wrangler.toml [env.*]) while local dev and the tests
// use the bare role names. index.ts dispatches on the role; scripts/deploy creates the queues from the same rule.
// No Worker types here: the deploy script and its Node tests import this module too.

/** Every queue CIC uses, by role (its name in local dev and tests). */
export const QUEUE_ROLES = ['usage-events', 'usage-events-dlq', 'node-ops', 'node-ops-dlq'] as const
export type QueueRole = (typeof QUEUE_ROLES)[number]

/**
 * Roles with a Worker consumer in some environment: index.ts's handler table is typed by this list, so a role
 * added here without a handler fails the typecheck. node-ops has a Worker consumer only in local dev (the local
 * pull-queue shim); deployed, orchestrator-runner pulls it over HTTP.
 */
export const WORKER_CONSUMED_ROLES = ['usage-events', 'usage-events-dlq', 'node-ops', 'node-ops-dlq'] as const satisfies readonly QueueRole[]
export type WorkerConsumedRole = (typeof WORKER_CONSUMED_ROLES)[number]

/** Environments whose queues keep their bare role names: they run on this machine, never in a Cloudflare account. */
const LOCAL_ENVIRONMENTS: readonly string[] = ['development', 'test']

/** The queue name of `role` in an environment (an unset ENVIRONMENT is production, as in env.ts). */
export function queueName(role: QueueRole, environment: string | undefined): string {
  const env = environment ?? 'production'
  return LOCAL_ENVIRONMENTS.includes(env) ? role : `cic-${env}-${role}`
}

/** The role of a queue in this environment; undefined for a name this environment does not own. */
export function queueRole(name: string, environment: string | undefined): QueueRole | undefined {
  return QUEUE_ROLES.find((role) => queueName(role, environment) === name)
}

/** The Worker-consumed role of a batch's queue, or undefined when queue() has no handler for it here. */
export function workerConsumedRole(name: string, environment: string | undefined): WorkerConsumedRole | undefined {
  const role = queueRole(name, environment)
  return WORKER_CONSUMED_ROLES.find((consumed) => consumed === role)
}
