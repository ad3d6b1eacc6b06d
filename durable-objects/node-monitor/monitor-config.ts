// The NodeMonitor's own configuration parse: the node-health settings (declared here, once; the Worker's config in
// workers/src/env.ts includes the same fields through contract.ts, so both read the same defaults) and the key
// that opens node API keys. Parsed once per binding object, like the Worker's.
import { z } from 'zod'

export const monitorConfigShape = {
  /** How often each node's monitor checks `/health` and scrapes `/metrics`. */
  NODE_HEALTH_INTERVAL_MS: z.coerce.number().int().positive().default(5_000),
  NODE_HEALTH_TIMEOUT_MS: z.coerce.number().int().positive().default(2_000),
  /** Consecutive failed health checks after which a ready node is marked failed. */
  NODE_UNHEALTHY_AFTER: z.coerce.number().int().positive().default(3),
  /** A node being removed drains at least this long (longer than any isolate's cached node list lives). */
  NODE_DRAIN_MIN_MS: z.coerce.number().int().nonnegative().default(5_000),
  /** A node being removed is removed after this long even if it never reports being idle. */
  NODE_DRAIN_TIMEOUT_MS: z.coerce.number().int().positive().default(600_000),
  /** A launch attempt still launching or warming after this is failed and its cluster taken down (launch-watch.ts). */
  NODE_LAUNCH_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(45 * 60_000),
}

const monitorConfigSchema = z.object({
  ...monitorConfigShape,
  SECRETS_KEY: z.string().min(16, 'SECRETS_KEY must be at least 16 characters'),
})
export type MonitorConfig = z.infer<typeof monitorConfigSchema>

let cached: { source: Env; config: MonitorConfig } | undefined

/** Throws on a bad value: the monitor cannot check its node without these. */
export function loadMonitorConfig(env: Env): MonitorConfig {
  if (cached?.source === env) return cached.config
  const parsed = monitorConfigSchema.safeParse(env)
  if (!parsed.success) throw new Error(`Invalid NodeMonitor configuration: ${z.prettifyError(parsed.error)}`)
  cached = { source: env, config: parsed.data }
  return parsed.data
}
