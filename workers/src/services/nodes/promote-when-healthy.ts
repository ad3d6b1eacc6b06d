// SEAM for issue #4. Moves a freshly registered node from 'warming' to 'ready' once its /health answers 200.
// Issue #4's NodeMonitor Durable Object (per-node health-check alarms) promotes any 'warming' node the same way
// and also takes failing nodes out of routing; at merge, the registration route's single call to this function
// is replaced by starting that monitor, and this file goes away. Keep it free of other callers.
import type { Db } from '../../db/client.ts'
import { log } from '../../log.ts'
import { transitionNode } from './node-launch-store.ts'

export type PromoteOptions = { attempts?: number; intervalMs?: number; probeTimeoutMs?: number }

/**
 * Probes `${endpoint}/health` up to `attempts` times; on the first 200 the node becomes 'ready' (only if it is
 * still 'warming'). Runs in waitUntil after registration, so the defaults stay well inside its 30 s budget.
 * Returns whether the node was promoted. A node that never answers stays 'warming' (out of routing).
 */
export async function promoteWhenHealthy(db: Db, node: { name: string; endpoint: string }, options: PromoteOptions = {}): Promise<boolean> {
  const { attempts = 5, intervalMs = 2_000, probeTimeoutMs = 3_000 } = options
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs))
    if (await isHealthy(node.endpoint, probeTimeoutMs)) {
      const result = await transitionNode(db, node.name, { type: 'healthy' })
      log.info('node_promotion', { clusterName: node.name, applied: result?.applied ?? false, status: result?.node.status })
      return result?.applied ?? false
    }
  }
  log.warn('node_not_healthy_after_registration', { clusterName: node.name, attempts })
  return false
}

async function isHealthy(endpoint: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(timeoutMs) })
    await res.body?.cancel()
    return res.status === 200
  } catch {
    return false
  }
}
