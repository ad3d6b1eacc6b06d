// The isolate's view of the node fleet, so that choosing a node adds no database round trip to requests.
// Stale-while-revalidate (stale-while-revalidate.ts): once older than REFRESH_MS the cached list is still served
// and D1 is read again in the background.
import type { Db } from '../../db/client.ts'
import { nodes } from '../../db/schema.ts'
import { log } from '../../log.ts'
import { decodeNodeRow, type NodeConnection } from '../../db/node-row.ts'
import { staleWhileRevalidate } from '../stale-while-revalidate.ts'

export type RoutableNode = NodeConnection

const REFRESH_MS = 2_000
const directory = staleWhileRevalidate<RoutableNode[]>('node_directory', REFRESH_MS)

export function invalidateNodeDirectory(): void {
  directory.invalidate()
}

/** `waitUntil` keeps a background refresh alive after the response (pass the request's). */
export function listNodes(db: Db, secretsKey: string, waitUntil?: (promise: Promise<unknown>) => void): Promise<RoutableNode[]> {
  return directory.get(() => load(db, secretsKey), waitUntil)
}

async function load(db: Db, secretsKey: string): Promise<RoutableNode[]> {
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
  return read.filter((node): node is RoutableNode => node !== null)
}
