// The one decoder of a `nodes` row into what code that talks to the node needs: the endpoint without trailing
// slashes and the node's API key opened. Used by the Worker's routing (services/nodes/node-directory.ts) and by the
// NodeMonitor (durable-objects/node-monitor/node-record.ts), each reading the row with its own query.
import type { NodeEngine } from '../schemas/node-ops.ts'
import { open } from './secret-box.ts'

export type NodeConnection = { id: string; name: string; endpoint: string; models: string[]; status: string; engine: NodeEngine; apiKey: string | null }
export type EncodedNodeRow = Omit<NodeConnection, 'apiKey'> & { apiKeyCiphertext: string | null }

/** Rejects when the key does not open under `secretsKey` (sealed under another SECRETS_KEY). */
export async function decodeNodeRow(row: EncodedNodeRow, secretsKey: string): Promise<NodeConnection> {
  return {
    id: row.id,
    name: row.name,
    endpoint: row.endpoint.replace(/\/+$/, ''),
    models: row.models,
    status: row.status,
    engine: row.engine,
    apiKey: row.apiKeyCiphertext ? await open(secretsKey, row.apiKeyCiphertext) : null,
  }
}
