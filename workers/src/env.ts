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
  /** Completion tokens reserved per choice at admission when a request sets no max_tokens (settled to real usage after). */
  ADMISSION_DEFAULT_MAX_TOKENS: z.coerce.number().int().positive().default(4096),
  /** Upper bound of any reservation: the largest context length of the models served. */
  ADMISSION_MAX_CONTEXT_TOKENS: z.coerce.number().int().positive().default(131_072),
  /** A request not settled within this time (its Worker died) gives its concurrency slot back. */
  ADMISSION_LEASE_TTL_MS: z.coerce.number().int().positive().default(600_000),
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
