// Chooses the node for one request among ready nodes serving the model: least requests in flight from this
// isolate, ties broken at random so isolates do not all pile onto the same node.
import { ApiError } from '../../errors.ts'
import type { RoutableNode } from '../nodes/node-directory.ts'

const inFlight = new Map<string, number>()

export function pickNode(all: RoutableNode[], model: string): RoutableNode {
  const serving = all.filter((n) => n.status !== 'gone' && n.models.includes(model))
  if (serving.length === 0) {
    throw new ApiError('not_found', `The model \`${model}\` does not exist or you do not have access to it.`, { param: 'model', code: 'model_not_found' })
  }
  const ready = serving.filter((n) => n.status === 'ready')
  if (ready.length === 0) {
    throw new ApiError('upstream_unavailable', `No node is currently available for model \`${model}\`. Please retry shortly.`, { code: 'no_available_node', headers: { 'retry-after': '5' } })
  }
  let best: RoutableNode[] = []
  let bestLoad = Infinity
  for (const node of ready) {
    const load = inFlight.get(node.id) ?? 0
    if (load < bestLoad) { best = [node]; bestLoad = load } else if (load === bestLoad) best.push(node)
  }
  return best[Math.floor(Math.random() * best.length)] as RoutableNode
}

/** Marks a request as in flight on a node; call the returned function exactly once when it ends. */
export function trackInFlight(nodeId: string): () => void {
  inFlight.set(nodeId, (inFlight.get(nodeId) ?? 0) + 1)
  let released = false
  return () => {
    if (released) return
    released = true
    inFlight.set(nodeId, Math.max(0, (inFlight.get(nodeId) ?? 1) - 1))
  }
}
