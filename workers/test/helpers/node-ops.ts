// Test helpers for node launches: the runner's endpoints, the local pull-queue shim, and decoding what it returns.
import { vi } from 'vitest'
import { nodeOpMessageSchema, type NodeOpMessage } from '../../src/schemas/node-ops.ts'
import { call } from './gateway.ts'

export const RUNNER_TOKEN = 'test-runner-token-0123456789'
const QUEUE_BASE = '/local-queues/client/v4/accounts/test-account/queues'

export const runner = (path: string, init: RequestInit & { json?: unknown } = {}) =>
  call(path, { method: 'POST', ...init, headers: { authorization: `Bearer ${RUNNER_TOKEN}`, ...Object.fromEntries(new Headers(init.headers)) } })

export const queueApi = (action: 'pull' | 'ack', json: unknown, queue = 'node-ops', token = RUNNER_TOKEN) =>
  call(`${QUEUE_BASE}/${queue}/messages/${action}`, { method: 'POST', json, headers: { authorization: `Bearer ${token}` } })

export type WireMessage = { id: string; body: string; attempts: number; lease_id: string; timestamp_ms: number; metadata: Record<string, string> }

export async function pull(json: unknown = {}): Promise<WireMessage[]> {
  const res = await queueApi('pull', json)
  if (res.status !== 200) throw new Error(`pull -> ${res.status}: ${await res.text()}`)
  const body = (await res.json()) as { result: { messages: WireMessage[] } }
  return body.result.messages
}

export const decode = (m: WireMessage): NodeOpMessage => nodeOpMessageSchema.parse(JSON.parse(atob(m.body)))

/** Pulls until a message about `clusterName` arrives (the queue delivers to the shim asynchronously). */
export async function pullFor(clusterName: string, visibilityMs = 60_000): Promise<{ wire: WireMessage; message: NodeOpMessage }> {
  return vi.waitFor(
    async () => {
      const pulled = (await pull({ batch_size: 100, visibility_timeout_ms: visibilityMs })).map((wire) => ({ wire, message: decode(wire) }))
      const found = pulled.find((m) => m.message.cluster_name === clusterName)
      // Messages of other tests go straight back to the queue.
      const others = pulled.filter((m) => m !== found).map((m) => ({ lease_id: m.wire.lease_id, delay_seconds: 0 }))
      if (others.length > 0) await queueApi('ack', { retries: others })
      if (!found) throw new Error(`no node-ops message for ${clusterName} yet`)
      return found
    },
    { timeout: 5_000, interval: 50 },
  )
}

export const ack = async (leaseId: string) => queueApi('ack', { acks: [{ lease_id: leaseId }] })
