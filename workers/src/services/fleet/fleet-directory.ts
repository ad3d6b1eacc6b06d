// The isolate's view of the fleets, for routing and /v1/models: which models have a fleet (they stay listed and get
// 503 + Retry-After while no node is ready, not 404) and how far their replacement launch is. Cached like the node
// directory (node-directory.ts, stale-while-revalidate.ts): served stale while re-read in the background every REFRESH_MS, so a request waits
// for D1 only on an isolate's first look; an admin change in this isolate invalidates it.
import { staleWhileRevalidate } from '../stale-while-revalidate.ts'

export type FleetProgress = {
  model: string
  /** Observed launch-to-ready time (moving average), null until a node of the fleet reached ready. */
  typicalReadyMs: number | null
  /** When the oldest launch not yet registered (queued/launching) was decided; null when none. */
  launchingSince: number | null
  /** Nodes registered and waiting for their first passing health check: ready within seconds. */
  warming: number
}

const REFRESH_MS = 2_000
const directory = staleWhileRevalidate<Map<string, FleetProgress>>('fleet_directory', REFRESH_MS)

export function invalidateFleetDirectory(): void {
  directory.invalidate()
}

const FLEETS_SQL = `SELECT f.model, f.typical_ready_ms,
  (SELECT min(n.created_at) FROM node_launches l JOIN nodes n ON n.id = l.node_id
    WHERE l.fleet_model = f.model AND n.status IN ('queued', 'launching')) AS launching_since,
  (SELECT count(*) FROM node_launches l JOIN nodes n ON n.id = l.node_id
    WHERE l.fleet_model = f.model AND n.status = 'warming') AS warming
  FROM fleets f`

type Row = { model: string; typical_ready_ms: number | null; launching_since: number | null; warming: number }

async function load(d1: D1Database): Promise<Map<string, FleetProgress>> {
  const { results } = await d1.prepare(FLEETS_SQL).all<Row>()
  return new Map(results.map((r) => [r.model, { model: r.model, typicalReadyMs: r.typical_ready_ms, launchingSince: r.launching_since, warming: r.warming }]))
}

/** Every fleet by model. `waitUntil` keeps a background refresh alive after the response. */
export function listFleets(d1: D1Database, waitUntil?: (promise: Promise<unknown>) => void): Promise<Map<string, FleetProgress>> {
  return directory.get(() => load(d1), waitUntil)
}
