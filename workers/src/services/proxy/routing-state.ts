// The isolate's cached copy of each node's NodeMonitor snapshot (breaker, health, load). A copy older than
// FRESH_MS is still used while a fresh one is fetched in the background, so choosing a node adds no Durable
// Object round trip in the steady state (only an isolate's first look at a node waits, briefly). Outcomes
// are applied to the local copy at once (same transitions as the monitor) and reported in waitUntil.
import { breakerVerdict, recordOutcome, secondsUntilRetry, type BreakerVerdict, type Outcome } from '../../../../durable-objects/node-monitor/contract.ts'
import { log } from '../../log.ts'
import { monitorOf, type NodeSnapshot } from '../nodes/node-monitor-client.ts'

const FRESH_MS = 1_000
/** An isolate's first look at a node waits at most this long for its monitor, then routes without it. */
const FIRST_LOOK_TIMEOUT_MS = 500
/** After a refused probe, the node is not offered a probe again by this isolate for this long. */
const PROBE_REFUSED_MS = 1_000

export type RoutingContext = { env: Env; waitUntil: (promise: Promise<unknown>) => void }

type View = { snapshot: NodeSnapshot; fetchedAt: number; probeRefusedUntil: number }
const views = new Map<string, View>()
const refreshing = new Map<string, Promise<void>>()

function store(nodeId: string, snapshot: NodeSnapshot): void {
  const previous = views.get(nodeId)
  if (previous && previous.snapshot.at > snapshot.at) return // an older answer that arrived late
  views.set(nodeId, { snapshot, fetchedAt: Date.now(), probeRefusedUntil: previous?.probeRefusedUntil ?? 0 })
}

function refresh(ctx: RoutingContext, nodeId: string): Promise<void> {
  let pending = refreshing.get(nodeId)
  if (!pending) {
    pending = monitorOf(ctx.env, nodeId)
      .snapshot(nodeId)
      .then(
        (snapshot) => store(nodeId, snapshot),
        (err: unknown) => log.warn('node_snapshot_failed', { nodeId, error: String(err) }),
      )
      .finally(() => refreshing.delete(nodeId))
    refreshing.set(nodeId, pending)
  }
  return pending
}

async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([
    promise,
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms)
    }),
  ])
  clearTimeout(timer)
}

/** Snapshots for these nodes (null: not known yet in this isolate; route it as a closed, load-blind node). */
export async function nodeViews(ctx: RoutingContext, nodeIds: string[]): Promise<Map<string, NodeSnapshot | null>> {
  const unseen = nodeIds.filter((id) => !views.has(id))
  if (unseen.length > 0) {
    const first = Promise.all(unseen.map((id) => refresh(ctx, id)))
    ctx.waitUntil(first)
    await within(first, FIRST_LOOK_TIMEOUT_MS)
  }
  const now = Date.now()
  for (const id of nodeIds) {
    const view = views.get(id)
    if (view && now - view.fetchedAt >= FRESH_MS) ctx.waitUntil(refresh(ctx, id))
  }
  return new Map(nodeIds.map((id) => [id, views.get(id)?.snapshot ?? null]))
}

/** What this isolate's copy of the node's breaker allows now. */
export function breakerVerdictOf(nodeId: string, snapshot: NodeSnapshot | null, now: number): BreakerVerdict {
  if (!snapshot) return 'allow'
  const verdict = breakerVerdict(snapshot.breaker, snapshot.breakerConfig, now)
  return verdict === 'probe' && (views.get(nodeId)?.probeRefusedUntil ?? 0) > now ? 'deny' : verdict
}

export const retryAfterSeconds = (snapshot: NodeSnapshot | null, now: number) => (snapshot ? secondsUntilRetry(snapshot.breaker, now) : null)

/** Asks the node's monitor for a half-open probe slot (a blocking round trip, only while a node recovers). */
export async function acquireProbe(ctx: RoutingContext, nodeId: string): Promise<boolean> {
  try {
    const { granted, snapshot } = await monitorOf(ctx.env, nodeId).acquireProbe()
    store(nodeId, snapshot)
    if (granted) return true
  } catch (err) {
    log.warn('node_probe_request_failed', { nodeId, error: String(err) })
  }
  const view = views.get(nodeId)
  if (view) view.probeRefusedUntil = Date.now() + PROBE_REFUSED_MS
  return false
}

/**
 * Applies a request's outcome to this isolate's copy at once, and reports it to the node's monitor off the
 * response path. A success on a breaker this isolate sees closed and clean changes nothing, so it is not sent
 * (the common case costs no round trip); the monitor may then keep a failure count from other isolates up to
 * FRESH_MS longer than it would otherwise.
 */
export function reportOutcome(ctx: RoutingContext, nodeId: string, outcome: Outcome): void {
  const view = views.get(nodeId)
  if (view) {
    const before = view.snapshot.breaker
    const after = recordOutcome(before, view.snapshot.breakerConfig, outcome, Date.now())
    if (outcome.ok && !outcome.isProbe && after === before && before.phase === 'closed') return
    view.snapshot = { ...view.snapshot, breaker: after }
  }
  ctx.waitUntil(
    monitorOf(ctx.env, nodeId)
      .recordOutcome(outcome)
      .then(
        (snapshot) => store(nodeId, snapshot),
        (err: unknown) => log.warn('node_outcome_report_failed', { nodeId, error: String(err) }),
      ),
  )
}

/** A probe's client went away before the node answered: nothing was learnt, but the probe slot is freed. */
export function releaseProbe(ctx: RoutingContext, nodeId: string): void {
  ctx.waitUntil(
    monitorOf(ctx.env, nodeId)
      .releaseProbe()
      .catch((err: unknown) => log.warn('node_probe_release_failed', { nodeId, error: String(err) })),
  )
}
