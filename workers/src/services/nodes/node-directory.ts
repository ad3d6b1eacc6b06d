// The isolate's view of the node fleet, so that choosing a node adds no database round trip to requests.
// Stale-while-revalidate: once older than REFRESH_MS the cached list is still served and D1 is read again in
// the background; a request waits for D1 only when there is no list (first use, or after an invalidation,
// which admin writes in this isolate make so they see their own change at once).
import type { Db } from '../../db/client.ts'
import { nodes } from '../../db/schema.ts'
import { log } from '../../log.ts'
import { decodeNodeRow, type NodeConnection } from '../../db/node-row.ts'

export type RoutableNode = NodeConnection

const REFRESH_MS = 2_000
/** A background refresh not done by then is presumed lost (e.g. cut off with the request that started it). */
const REFRESH_GIVE_UP_MS = 10_000

let snapshot: { at: number; nodes: RoutableNode[] } | null = null
let loading: Promise<RoutableNode[]> | null = null
let refreshStartedAt: number | null = null
/** Bumped by each invalidation, so a read that started before it cannot store what it read. */
let generation = 0

export function invalidateNodeDirectory(): void {
  snapshot = null
  loading = null
  generation++
}

/** `waitUntil` keeps a background refresh alive after the response (pass the request's). */
export async function listNodes(db: Db, secretsKey: string, waitUntil?: (promise: Promise<unknown>) => void): Promise<RoutableNode[]> {
  if (snapshot) {
    const now = Date.now()
    const isRefreshing = refreshStartedAt !== null && now - refreshStartedAt < REFRESH_GIVE_UP_MS
    if (now - snapshot.at >= REFRESH_MS && !isRefreshing) {
      refreshStartedAt = now
      const refresh = load(db, secretsKey)
        .catch((err: unknown) => {
          log.warn('node_directory_refresh_failed', { error: String(err) })
        }) // stale list kept; next request retries
        .finally(() => {
          refreshStartedAt = null
        })
      waitUntil?.(refresh)
    }
    return snapshot.nodes
  }
  if (!loading) {
    const started = load(db, secretsKey).finally(() => {
      if (loading === started) loading = null
    })
    loading = started
  }
  return loading
}

async function load(db: Db, secretsKey: string): Promise<RoutableNode[]> {
  const startedIn = generation
  const rows = await db.select().from(nodes).all()
  const read = await Promise.all(
    rows.map((row) =>
      decodeNodeRow(row, secretsKey).catch((err: unknown) => {
        // A key sealed under another SECRETS_KEY (mid-rotation, docs/runbooks/rotate-secrets-key.md) takes that one node
        // out of routing, not the whole fleet: one failed row used to fail every new isolate's list.
        log.error('node_key_unreadable', { node_id: row.id, error: String(err) })
        return null
      }),
    ),
  )
  const list = read.filter((node): node is RoutableNode => node !== null)
  if (startedIn === generation) snapshot = { at: Date.now(), nodes: list }
  return list
}
