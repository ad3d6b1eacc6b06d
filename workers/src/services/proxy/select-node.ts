// Chooses the node for one attempt of a request: among ready nodes serving the model whose breaker admits
// traffic (as this isolate's cached copy sees it), a recovering node's probe first, then session affinity,
// then load. 404 when no node serves the model at all and it has no fleet, 503 with Retry-After when none can take
// it now (a fleet's model with no node yet included: the Retry-After follows its replacement's launch).
import { dependsOn } from '../../dependency.ts'
import { ApiError } from '../../errors.ts'
import { fleetRetryAfter, fleetRetryAfterIfKnown } from '../fleet/fleet-routing.ts'
import { listNodes, type RoutableNode } from '../nodes/node-directory.ts'
import type { Db } from '../../db/client.ts'
import { chooseByAffinity, chooseByLoad, inFlightOn, type Candidate } from './pick-node.ts'
import { acquireProbe, breakerVerdictOf, nodeViews, retryAfterSeconds, type RoutingContext } from './routing-state.ts'

export type SelectContext = RoutingContext & { db: Db; secretsKey: string; maxLoadAgeMs: number }

export type SelectInput = {
  model: string
  /** Tenant-scoped `x-session-id` or `user`: the same key goes to the same node while it can take it. */
  affinityKey: string | null
  /** Nodes this request already tried: others are preferred, these are used only if nothing else is left. */
  avoid: ReadonlySet<string>
  /** Nodes not to use at all for this request (one that timed out would eat the whole deadline again). */
  exclude: ReadonlySet<string>
}

export type Selection = { node: RoutableNode; isProbe: boolean }

const OUT_OF_FLEET: ReadonlySet<string> = new Set(['gone', 'terminated'])

/** Default Retry-After when nodes exist but none is ready (launching, warming, draining). */
const NOT_READY_RETRY_AFTER_S = 5

const shuffled = <T>(items: T[]): T[] =>
  items
    .map((item) => ({ item, key: Math.random() }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.item)

const noAvailableNode = (model: string, retryAfterSeconds: number) =>
  new ApiError('upstream_unavailable', `No node is currently available for model \`${model}\`. Please retry shortly.`, {
    code: 'no_available_node',
    headers: { 'retry-after': String(retryAfterSeconds) },
  })

export async function selectNode(ctx: SelectContext, input: SelectInput): Promise<Selection> {
  const { model } = input
  // A terminated node is out of the fleet for good (until relaunched): its models are not served, not "busy".
  const serving = (await dependsOn('d1', () => listNodes(ctx.db, ctx.secretsKey, ctx.waitUntil))).filter(
    (n) => !OUT_OF_FLEET.has(n.status) && n.models.includes(model),
  )
  if (serving.length === 0) {
    // A fleet's model whose nodes are all gone (preempted, replacement not decided yet) is coming back: 503, not 404.
    const fleetWait = await fleetRetryAfter(ctx, model)
    if (fleetWait !== null) throw noAvailableNode(model, fleetWait)
    throw new ApiError('not_found', `The model \`${model}\` does not exist or you do not have access to it.`, { param: 'model', code: 'model_not_found' })
  }
  const ready = serving.filter((n) => n.status === 'ready' && !input.exclude.has(n.id))
  const snapshots = await nodeViews(
    ctx,
    ready.map((n) => n.id),
  )
  const now = Date.now()
  const judged = ready
    .map((node) => ({ node, snapshot: snapshots.get(node.id) ?? null }))
    .filter(({ snapshot }) => snapshot?.health.state !== 'unhealthy') // the monitor is about to mark it failed
    .map((j) => ({ ...j, verdict: breakerVerdictOf(j.node.id, j.snapshot, now) }))

  // A node whose cooldown is over gets the next request as its probe: it recovers as soon as it can, and
  // if the probe fails before its first byte the request is retried elsewhere.
  for (const j of shuffled(judged.filter((x) => x.verdict === 'probe' && !input.avoid.has(x.node.id)))) {
    if (await acquireProbe(ctx, j.node.id)) return { node: j.node, isProbe: true }
  }

  const allowed = judged.filter((j) => j.verdict === 'allow')
  const untried = allowed.filter((j) => !input.avoid.has(j.node.id))
  const pool = untried.length > 0 ? untried : allowed
  if (pool.length === 0) {
    const waits = judged.map((j) => retryAfterSeconds(j.snapshot, now)).filter((s): s is number => s !== null)
    // Open breakers: until the first cooldown ends. Half-open ones busy with their probe: soon. None ready: a while.
    // None ready: a fleet's replacement tells how long; otherwise a while.
    const retryAfter = waits.length > 0 ? Math.min(...waits) : judged.length > 0 ? 1 : ((await fleetRetryAfterIfKnown(ctx, model)) ?? NOT_READY_RETRY_AFTER_S)
    throw noAvailableNode(model, retryAfter)
  }
  const candidates: Candidate[] = pool.map((j) => ({ node: j.node, inFlight: inFlightOn(j.node.id), load: j.snapshot?.load ?? null }))
  const chosen = input.affinityKey ? chooseByAffinity(candidates, input.affinityKey) : chooseByLoad(candidates, now, ctx.maxLoadAgeMs)
  return { node: chosen.node, isProbe: false }
}
