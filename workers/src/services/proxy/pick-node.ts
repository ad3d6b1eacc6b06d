// The choice among nodes that may take a request, and the isolate's count of requests in flight per node.
// Pure apart from that counter: load-aware power of two choices, least-in-flight without metrics, and
// rendezvous hashing for session affinity. select-node.ts decides which nodes are candidates.
import type { NodeLoad } from '../../../../durable-objects/node-monitor/contract.ts'
import type { RoutableNode } from '../nodes/node-directory.ts'

export type Candidate = { node: RoutableNode; inFlight: number; load: NodeLoad | null }

/** A request queued at the node delays a new one more than one of ours in flight (it is not even running yet). */
const WAITING_WEIGHT = 2
/** A nearly full KV cache means preemption and recomputation: 0.9 weighs like 7 more requests in flight. */
const KV_WEIGHT = 8

const inFlight = new Map<string, number>()

export const inFlightOn = (nodeId: string): number => inFlight.get(nodeId) ?? 0

/** Marks a request as in flight on a node; call the returned function exactly once when it ends. */
export function holdNodeSlot(nodeId: string): () => void {
  inFlight.set(nodeId, inFlightOn(nodeId) + 1)
  let released = false
  return () => {
    if (released) return
    released = true
    inFlight.set(nodeId, Math.max(0, inFlightOn(nodeId) - 1))
  }
}

/**
 * Requests on the node, plus its queue and KV pressure when its metrics are recent enough. The node's own
 * `running` count sees every isolate's requests (this isolate's count only its own); it includes ours as of
 * the scrape, so the larger of the two is taken rather than their sum, which would count ours twice.
 */
export function loadScore(c: Candidate, now: number, maxLoadAgeMs: number): number {
  const load = c.load && now - c.load.scrapedAt <= maxLoadAgeMs ? c.load : null
  if (!load) return c.inFlight
  return Math.max(c.inFlight, load.running) + load.waiting * WAITING_WEIGHT + (load.kvCacheUsage ?? 0) * KV_WEIGHT
}

function leastInFlight(candidates: Candidate[], random: () => number): Candidate {
  const min = Math.min(...candidates.map((c) => c.inFlight))
  const best = candidates.filter((c) => c.inFlight === min)
  return best[Math.floor(random() * best.length)] as Candidate // ties at random, so isolates do not pile onto one node
}

/**
 * Power of two choices: two distinct candidates at random, the lower score wins. Without any recent metrics
 * it falls back to the least requests in flight. `candidates` must not be empty.
 */
export function chooseByLoad(candidates: Candidate[], now: number, maxLoadAgeMs: number, random: () => number = Math.random): Candidate {
  if (candidates.length === 1) return candidates[0] as Candidate
  const hasMetrics = candidates.some((c) => c.load && now - c.load.scrapedAt <= maxLoadAgeMs)
  if (!hasMetrics) return leastInFlight(candidates, random)
  const i = Math.floor(random() * candidates.length)
  const j = (i + 1 + Math.floor(random() * (candidates.length - 1))) % candidates.length
  const a = candidates[i] as Candidate
  const b = candidates[j] as Candidate
  const sa = loadScore(a, now, maxLoadAgeMs)
  const sb = loadScore(b, now, maxLoadAgeMs)
  if (sa === sb) return random() < 0.5 ? a : b
  return sa < sb ? a : b
}

/** FNV-1a over the text, then murmur3's finaliser so that nearby inputs get unrelated weights. Stable across isolates. */
function hash32(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/**
 * Rendezvous (highest random weight) hashing: the same key picks the same node while that node stays a
 * candidate, and when it leaves, only its keys move. Keeps vLLM's prefix cache warm for a session.
 */
export function chooseByAffinity(candidates: Candidate[], key: string): Candidate {
  let best = candidates[0] as Candidate
  let bestWeight = -1
  for (const c of candidates) {
    const weight = hash32(`${key}\u0000${c.node.id}`)
    if (weight > bestWeight) {
      best = c
      bestWeight = weight
    }
  }
  return best
}
