// The one mapping of a failed dependency (D1, a TenantGate or NodeMonitor object, a Queue) to what the client
// hears: 503 `server_error` in OpenAI's envelope with a jittered Retry-After, instead of a 500. openai-node and
// most SDKs retry a 503 and honour Retry-After (STYLE §7); the jitter spreads the retries of clients refused
// together. Logged and counted by dependency (cic_dependency_failures_total). Call sites wrap the call itself.
import { ApiError } from './errors.ts'
import { log } from './log.ts'
import { countDependencyFailure } from './services/metrics/record-metrics.ts'

export type Dependency = 'd1' | 'tenant_gate' | 'node_monitor' | 'queue'

/** Retry-After in whole seconds (RFC 9110 §10.2.3): `baseSeconds` plus up to `spreadSeconds` of jitter. */
export function jitteredRetryAfter(baseSeconds = 1, spreadSeconds = 2): Record<string, string> {
  return { 'retry-after': String(baseSeconds + Math.floor(Math.random() * (spreadSeconds + 1))) }
}

/** The 503 of a failed dependency (its name goes to the log and the metric, not to the client). */
export function dependencyUnavailable(dependency: Dependency, err: unknown, baseSeconds = 1): ApiError {
  log.error('dependency_failed', { dependency, error: String(err) })
  countDependencyFailure(dependency)
  return new ApiError('dependency_unavailable', 'The service is temporarily unavailable. Please retry shortly.', {
    code: 'service_unavailable',
    headers: jitteredRetryAfter(baseSeconds),
  })
}

/** Runs one call to `dependency`; anything it throws but our own ApiError becomes the 503 above. */
export async function dependsOn<T>(dependency: Dependency, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    if (err instanceof ApiError) throw err
    throw dependencyUnavailable(dependency, err)
  }
}
