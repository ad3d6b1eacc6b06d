// Typed bindings and the parsed configuration of the Worker (string vars and secrets, validated once per isolate).
import { z } from 'zod'
import { monitorConfigShape } from '../../durable-objects/node-monitor/contract.ts'
import type { TenantIdentity } from './services/keys/resolve-key.ts'
import type { RequestTiming } from './services/metrics/request-timing.ts'
import { SECRET_NAMES } from './secrets.ts'

export type AppEnv = {
  Bindings: Env
  Variables: { requestId: string; config: Config; identity: TenantIdentity; startedAt: number; timing: RequestTiming }
}

export const ENVIRONMENTS = ['development', 'test', 'staging', 'production'] as const
export type Environment = (typeof ENVIRONMENTS)[number]

/**
 * The one test of "production" every production-only rule uses: staging runs exactly as production does, so what
 * production refuses, staging refuses first. Takes the raw binding too, for code that runs before the config parse.
 */
export function isProductionLike(source: { ENVIRONMENT?: string }): boolean {
  return source.ENVIRONMENT === 'staging' || source.ENVIRONMENT === 'production' || source.ENVIRONMENT === undefined
}

/** The secrets list (names, and where a deploy requires each) lives in secrets.ts, which Node scripts import too. */
export { SECRET_NAMES } from './secrets.ts'
/** Shortest value accepted for a secret in production-like environments (32 characters: 190+ bits of base64). */
const PRODUCTION_SECRET_MIN_LENGTH = 32
const PLACEHOLDER_PATTERN = /change-me|placeholder|example|^test-|_dev_|-dev-/i

/** Why a secret value would be refused in production, or undefined when it is acceptable. */
export function productionSecretProblem(name: string, value: string): string | undefined {
  if (PLACEHOLDER_PATTERN.test(value))
    return `${name} is a development placeholder (see .dev.vars.example); set a real one with \`wrangler secret put ${name}\``
  if (value.length < PRODUCTION_SECRET_MIN_LENGTH) return `${name} must be at least ${PRODUCTION_SECRET_MIN_LENGTH} characters in production`
  return undefined
}

const configSchema = z.object({
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters'),
  SECRETS_KEY: z.string().min(16, 'SECRETS_KEY must be at least 16 characters'),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  /** Streams: time allowed for a node to send the first chunk; a timeout is retried on another node. */
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /**
   * Non-streamed requests: time allowed for the whole answer (vLLM sends its headers only with the body, so no
   * shorter first-byte measure exists). A timeout answers 504 and is not retried: the node was generating it.
   */
  UPSTREAM_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(600_000),
  /** Longest silence allowed between two events of a stream before it is treated as broken. */
  UPSTREAM_IDLE_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /**
   * Time allowed for a streaming request's response headers. Workers' fetch exposes no TCP-connect phase, so
   * this is the closest measure: a vLLM node sends stream headers as soon as it has accepted the request,
   * while a non-streamed answer's headers come with the whole body (only UPSTREAM_REQUEST_TIMEOUT_MS applies there).
   */
  UPSTREAM_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Retries of a request that failed before its first byte reached the client, each on another node when there is one. */
  UPSTREAM_MAX_RETRIES: z.coerce.number().int().nonnegative().default(3),
  /** Wait before the first retry; doubled before each next one (1 s, 2 s, 4 s). */
  UPSTREAM_RETRY_BACKOFF_MS: z.coerce.number().int().nonnegative().default(1_000),
  /** Bound on all attempts of one request until its first byte: no attempt runs or waits past it. */
  UPSTREAM_RETRY_DEADLINE_MS: z.coerce.number().int().positive().default(120_000),
  /** NODE_HEALTH_*, NODE_UNHEALTHY_AFTER, NODE_DRAIN_*, NODE_LAUNCH_TIMEOUT_MS: declared with the NodeMonitor, which parses them too. */
  ...monitorConfigShape,
  /** Shared secret of orchestrator-runner (/runner/*); the runner routes refuse everyone while it is unset. */
  RUNNER_TOKEN: z.string().min(16, 'RUNNER_TOKEN must be at least 16 characters').optional(),
  /** '1' in local dev only: serve the node-ops queue to the runner from the Worker (see routes/local-queues.ts). */
  LOCAL_QUEUE_SHIM: z.enum(['0', '1']).default('0'),
  /**
   * The DNS zone launched nodes are served under, e.g. `nodes.example.com`. In production-like environments a node
   * endpoint (POST /admin/nodes, POST /nodes/register) must be `https://<host>.<zone>`; empty refuses every one
   * there (services/nodes/endpoint-policy.ts). Dev and tests do not check (nodes are http://127.0.0.1 there).
   */
  NODES_ZONE: z
    .string()
    .trim()
    .toLowerCase()
    .regex(
      /^$|^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/,
      'NODES_ZONE must be a DNS name such as nodes.example.com (no scheme, no trailing dot)',
    )
    .default(''),
  // ---- Console sign-in (issue 17; services/console/) ----
  /**
   * OpenID Connect issuer the console signs in with: https://accounts.google.com deployed, the local stand-in
   * (scripts/oidc-standin) in dev and tests. Empty or unset: /dashboard/login answers 503. Production-like
   * environments refuse a non-https issuer (services/console/console-config.ts).
   */
  OIDC_ISSUER: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).optional(),
  /** The OAuth client's id and secret at the issuer (secrets: wrangler secret put). */
  OIDC_CLIENT_ID: z.string().optional(),
  OIDC_CLIENT_SECRET: z.string().optional(),
  /** Comma-separated emails of the operators (they may do everything in the console); matched on the verified email. */
  OPERATOR_EMAILS: z
    .string()
    .default('')
    .transform((list) =>
      list
        .split(',')
        .map((e) => e.trim().toLowerCase())
        .filter((e) => e !== ''),
    ),
  /** A console session unused for this long is over (sign in again). */
  CONSOLE_SESSION_IDLE_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(12 * 3600),
  /** A console session is over this long after its sign-in, used or not. */
  CONSOLE_SESSION_MAX_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(7 * 86_400),
  /** One meaning of production: staging and production are production-like (see isProductionLike). */
  ENVIRONMENT: z.enum(ENVIRONMENTS).default('production'),
  /** Completion tokens reserved per choice at admission when a request sets no max_tokens (settled to real usage after). */
  ADMISSION_DEFAULT_MAX_TOKENS: z.coerce.number().int().positive().default(4096),
  /** Upper bound of any reservation: the largest context length of the models served. */
  ADMISSION_MAX_CONTEXT_TOKENS: z.coerce.number().int().positive().default(131_072),
  /** A request not settled within this time (its Worker died) gives its concurrency slot back. */
  ADMISSION_LEASE_TTL_MS: z.coerce.number().int().positive().default(600_000),
  /**
   * Outside production-like environments only (.dev.vars): delay added to every call between a location object and a
   * tenant's home TenantGate, standing in for the distance (the objects read it themselves, tenant-gate/simulated-distance.ts).
   */
  ADMISSION_SIMULATED_RTT_MS: z.coerce.number().int().nonnegative().default(0),
  /**
   * Location objects a tenant's admissions at one location may spread over (services/admission/location-shards.ts):
   * a location's ceiling is this many objects. 1: one object per tenant and location hint.
   */
  ADMISSION_LOCATION_SHARDS: z.coerce.number().int().min(1).max(16).default(1),
  /** Bearer token of GET /metrics (it is on the public edge); /metrics answers 401 to everyone while it is unset. */
  METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
  /** Each isolate flushes its metric deltas at most this often (0: after every request, for tests). */
  METRICS_FLUSH_INTERVAL_MS: z.coerce.number().int().nonnegative().default(1_000),
  /** MetricsAggregator shards (`metrics:0..N-1`); only raise it: /metrics reads shards 0..N-1. */
  METRICS_SHARDS: z.coerce.number().int().min(1).max(64).default(4),
  /**
   * '1' in the tests only (vitest.config.ts): production's D1, Durable Object SQL and subrequest limits are
   * enforced on every statement and invocation (workers/src/platform/guard.ts reads the raw binding at each entry).
   */
  PLATFORM_LIMITS_GUARD: z.enum(['0', '1']).default('0'),
})
export type Config = z.infer<typeof configSchema>

let cached: { source: Env; config: Config } | undefined

/** Parses the env once per isolate; a missing secret fails loudly at the first request instead of deep in a handler. */
export function loadConfig(env: Env): Config {
  if (cached?.source === env) return cached.config
  const parsed = configSchema.safeParse(env)
  if (!parsed.success) throw new Error(`Invalid Worker configuration: ${z.prettifyError(parsed.error)}`)
  if (isProductionLike(parsed.data)) {
    const secrets = env as unknown as Record<string, unknown>
    const problems = SECRET_NAMES.flatMap((name) => {
      const value = secrets[name]
      if (typeof value !== 'string') return []
      const problem = productionSecretProblem(name, value)
      return problem ? [problem] : []
    })
    if (problems.length) throw new Error(`Invalid Worker configuration: ${problems.join('; ')}`)
  }
  cached = { source: env, config: parsed.data }
  return parsed.data
}
