// Finds a session id that the router's rendezvous hashing sends to a chosen node, so that a test can aim a
// request's first attempt at a node (and watch it fail over) without a test-only routing switch.
import type { RoutableNode } from '../../src/services/nodes/node-directory.ts'
import { chooseByAffinity } from '../../src/services/proxy/pick-node.ts'

export function sessionFor(tenantId: string, target: string, nodeIds: string[]): string {
  const candidates = nodeIds.map((id) => ({ node: { id } as RoutableNode, inFlight: 0, load: null }))
  for (let i = 0; i < 10_000; i++) {
    const session = `session-${i}`
    if (chooseByAffinity(candidates, `${tenantId}:${session}`).node.id === target) return session
  }
  throw new Error(`no session maps to ${target}`)
}
