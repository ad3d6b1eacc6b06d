// Typed bindings and the parsed configuration of the Worker (string vars and secrets, validated once per isolate).
import { z } from 'zod'
import type { TenantIdentity } from './services/keys/resolve-key.ts'

export type AppEnv = {
  Bindings: Env
  Variables: { requestId: string; config: Config; identity: TenantIdentity; startedAt: number }
}

const configSchema = z.object({
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters'),
  SECRETS_KEY: z.string().min(16, 'SECRETS_KEY must be at least 16 characters'),
  MAX_BODY_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  /** Time allowed for a node to send response headers; vLLM answers headers only once the request is scheduled. */
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Longest silence allowed between two events of a stream before it is treated as broken. */
  UPSTREAM_IDLE_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Shared secret of orchestrator-runner (/runner/*); the runner routes refuse everyone while it is unset. */
  RUNNER_TOKEN: z.string().min(16, 'RUNNER_TOKEN must be at least 16 characters').optional(),
  /** How long a terminated node keeps serving in-flight requests before `sky down` (delay of the terminate message). */
  NODE_DRAIN_SECONDS: z.coerce.number().int().min(0).max(43_200).default(30),
  /** '1' in local dev only: serve the node-ops queue to the runner from the Worker (see routes/local-queues.ts). */
  LOCAL_QUEUE_SHIM: z.enum(['0', '1']).default('0'),
  ENVIRONMENT: z.string().default('production'),
})
export type Config = z.infer<typeof configSchema>

let cached: { source: Env; config: Config } | undefined

/** Parses the env once per isolate; a missing secret fails loudly at the first request instead of deep in a handler. */
export function loadConfig(env: Env): Config {
  if (cached?.source === env) return cached.config
  const parsed = configSchema.safeParse(env)
  if (!parsed.success) throw new Error(`Invalid Worker configuration: ${z.prettifyError(parsed.error)}`)
  cached = { source: env, config: parsed.data }
  return parsed.data
}
