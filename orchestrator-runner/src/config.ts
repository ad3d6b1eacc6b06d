// The runner's configuration, from environment variables, validated once at start (a bad value stops it with a
// message naming the variable). See orchestrator-runner/README.md for each variable.
import { z } from 'zod'

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback)
const MINUTE = 60_000

const configSchema = z.object({
  CLOUDFLARE_ACCOUNT_ID: z.string().min(1),
  /** The queue's id (a UUID in production; `node-ops` for the local shim). */
  CLOUDFLARE_QUEUE_ID: z.string().min(1),
  /** API token with Queues read + write (acking mutates the queue). Locally: the Worker's RUNNER_TOKEN. */
  CLOUDFLARE_API_TOKEN: z.string().min(1),
  /** Locally: `<worker>/local-queues/client/v4` (the dev Worker's pull/ack shim). */
  CLOUDFLARE_API_BASE: z.url().default('https://api.cloudflare.com/client/v4'),
  /** The Worker's public URL: runner reports go to `<url>/runner/...`. */
  CONTROL_PLANE_URL: z.url(),
  RUNNER_TOKEN: z.string().min(16),
  /** Where launched nodes register; defaults to `<CONTROL_PLANE_URL>/nodes/register`. */
  NODE_REGISTER_URL: z.url().optional(),
  SKY_BIN: z.string().min(1).default('sky'),
  LAUNCH_TIMEOUT_MS: ms(45 * MINUTE),
  DOWN_TIMEOUT_MS: ms(20 * MINUTE),
  STATUS_TIMEOUT_MS: ms(3 * MINUTE),
  /** Longer than a launch, so a message is not redelivered while its launch still runs (12 h max). */
  VISIBILITY_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .max(12 * 60 * MINUTE)
    .optional(),
  MAX_CONCURRENT_JOBS: z.coerce.number().int().min(1).max(100).default(4),
  /** Launch attempts for capacity errors before the node is failed (keep below the queue's --message-retries). */
  MAX_LAUNCH_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(6),
  CAPACITY_RETRY_BASE_SECONDS: z.coerce.number().int().min(0).default(60),
  RETRY_MAX_SECONDS: z.coerce.number().int().min(0).max(43_200).default(1_800),
  POLL_MIN_MS: ms(1_000),
  POLL_MAX_MS: ms(30_000),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(20_000),
  /** pip requirement installed on the node. */
  VLLM_PIP_SPEC: z.string().min(1).default('vllm==0.11.0'),
  /** Autodown after this many idle minutes: a node whose vLLM died does not keep an A100 running. */
  AUTODOWN_IDLE_MINUTES: z.coerce.number().int().min(1).default(30),
  /** GET /healthz on this port (0: no health server). */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  /** /healthz turns 503 after this long without a successful pull while a job slot is free. */
  HEALTH_STALE_MS: ms(5 * MINUTE),
  /**
   * The node path (cloudflare/node-path.ts): a Cloudflare API token with exactly Account › Cloudflare Tunnel Write,
   * Account › Access: Apps and Policies Write, and Zone › DNS Write on the nodes zone only (not the Queues token).
   */
  CLOUDFLARE_NODE_PATH_API_TOKEN: z.string().min(1),
  /** Locally: the Cloudflare stand-in (scripts/cloudflare-standin). */
  CLOUDFLARE_NODE_PATH_API_BASE: z.url().default('https://api.cloudflare.com/client/v4'),
  /** The Worker's NODES_ZONE: each node is `<cluster>.<NODES_ZONE>`. */
  NODES_ZONE: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/, 'NODES_ZONE must be a DNS name such as nodes.example.com'),
  /** The zone id of NODES_ZONE (its DNS records are the only ones the runner touches). */
  NODES_ZONE_ID: z.string().min(1),
  /** Id of the Access service token the gateway presents (its client id/secret are the Worker's CF_ACCESS_CLIENT_*). */
  ACCESS_SERVICE_TOKEN_ID: z.string().min(1),
  /** Zero Trust team name: when set, each node's cloudflared also verifies the Access JWT of its app (recommended). */
  ACCESS_TEAM_NAME: z
    .string()
    .regex(/^[a-z0-9-]+$/, 'ACCESS_TEAM_NAME is the <team> of <team>.cloudflareaccess.com')
    .optional(),
  /** The endpoint a node registers: `https://{hostname}`; locally the stand-in's edge, `http://127.0.0.1:<port>/{hostname}`. */
  NODE_ENDPOINT_TEMPLATE: z.string().includes('{hostname}').default('https://{hostname}'),
  /** Passed to nodes as a SkyPilot secret for gated models, when set. */
  HF_TOKEN: z.string().min(1).optional(),
})

export type RunnerConfig = Omit<z.infer<typeof configSchema>, 'NODE_REGISTER_URL' | 'VISIBILITY_TIMEOUT_MS'> & {
  NODE_REGISTER_URL: string
  VISIBILITY_TIMEOUT_MS: number
}

export function loadRunnerConfig(env: Record<string, string | undefined>): RunnerConfig {
  const parsed = configSchema.safeParse(env)
  if (!parsed.success) throw new Error(`Invalid orchestrator-runner configuration:\n${z.prettifyError(parsed.error)}`)
  const c = parsed.data
  return {
    ...c,
    CONTROL_PLANE_URL: c.CONTROL_PLANE_URL.replace(/\/+$/, ''),
    CLOUDFLARE_API_BASE: c.CLOUDFLARE_API_BASE.replace(/\/+$/, ''),
    NODE_REGISTER_URL: c.NODE_REGISTER_URL ?? `${c.CONTROL_PLANE_URL.replace(/\/+$/, '')}/nodes/register`,
    VISIBILITY_TIMEOUT_MS: c.VISIBILITY_TIMEOUT_MS ?? Math.min(12 * 60 * MINUTE, c.LAUNCH_TIMEOUT_MS + c.STATUS_TIMEOUT_MS * 2 + c.DOWN_TIMEOUT_MS),
  }
}
