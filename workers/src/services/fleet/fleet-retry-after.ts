// Retry-After for a fleet's model while none of its nodes is ready: from the replacement's progress (when its
// launch was decided, and the fleet's typical launch-to-ready time), not a fixed guess. Pure; used by routing.
import type { FleetProgress } from './fleet-directory.ts'

/** Until a fleet has a measured time to ready: an A100 with a 7B-70B model download is ready in roughly this. */
export const DEFAULT_TYPICAL_READY_MS = 10 * 60_000
/** A node registered and waiting for its first health check: seconds away. */
const WARMING_RETRY_S = 5
/**
 * Bounds of the answer. openai-node waits for a Retry-After of up to 60 s and otherwise uses its own backoff
 * (openai 7.57.0, src/client.ts retryRequest: `timeoutMillis > 60 * 1000` falls back), so more than 60 s would be ignored by the main SDK; 5 s spares nodes
 * and the gateway from clients polling faster than anything can change.
 */
export const MIN_RETRY_S = 5
export const MAX_RETRY_S = 60

export function fleetRetryAfterSeconds(fleet: FleetProgress, now: number): number {
  if (fleet.warming > 0) return WARMING_RETRY_S
  const typical = fleet.typicalReadyMs ?? DEFAULT_TYPICAL_READY_MS
  // No launch decided yet (the reconciler runs within seconds of the node's failure): count from now.
  const started = fleet.launchingSince ?? now
  const remainingS = Math.ceil((started + typical - now) / 1000)
  return Math.min(MAX_RETRY_S, Math.max(MIN_RETRY_S, remainingS))
}
