// The isolate's view of the node fleet, read from D1 at most once per REFRESH_MS so that choosing a node
// adds no database round trip to most requests. Admin writes in this isolate invalidate it at once.
import type { Db } from '../../db/client.ts'
import { nodes } from '../../db/schema.ts'
import { open } from './secret-box.ts'

export type RoutableNode = { id: string; name: string; endpoint: string; models: string[]; status: string; apiKey: string | null }

const REFRESH_MS = 2_000
let snapshot: { at: number; nodes: RoutableNode[] } | null = null
let loading: Promise<RoutableNode[]> | null = null

export function invalidateNodeDirectory(): void {
  snapshot = null
}

export async function listNodes(db: Db, secretsKey: string): Promise<RoutableNode[]> {
  if (snapshot && Date.now() - snapshot.at < REFRESH_MS) return snapshot.nodes
  loading ??= load(db, secretsKey).finally(() => { loading = null })
  return loading
}

async function load(db: Db, secretsKey: string): Promise<RoutableNode[]> {
  const rows = await db.select().from(nodes).all()
  const list = await Promise.all(rows.map(async (row) => ({
    id: row.id, name: row.name, endpoint: row.endpoint.replace(/\/+$/, ''), models: row.models, status: row.status,
    apiKey: row.apiKeyCiphertext ? await open(secretsKey, row.apiKeyCiphertext) : null,
  })))
  snapshot = { at: Date.now(), nodes: list }
  return list
}
