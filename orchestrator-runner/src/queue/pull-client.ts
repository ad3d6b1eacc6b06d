// Client of Cloudflare Queues' HTTP pull-consumer API: POST .../queues/{queue_id}/messages/pull and /ack
// (platform-facts §1.1). fetch is injected so tests drive it against a local server; in local dev the same
// client talks to the Worker's shim by pointing apiBase at it.
import { ackResultSchema, apiEnvelopeSchema, pullResultSchema, type AckResult, type PulledWireMessage } from '../../../workers/src/schemas/queue-pull-api.ts'

export type PulledMessage = {
  id: string
  leaseId: string
  /** Deliveries so far, this one included (1 on the first delivery). */
  attempts: number
  timestampMs: number
  /** The decoded body (JSON parsed for the json content type), or undefined with decodeError set. */
  body: unknown
  decodeError?: string
}

export type PullClient = {
  pull(options: { batchSize: number; visibilityTimeoutMs: number }): Promise<PulledMessage[]>
  ack(request: { acks: string[]; retries: { leaseId: string; delaySeconds: number }[] }): Promise<AckResult>
}

export type PullClientOptions = {
  apiBase: string
  accountId: string
  queueId: string
  apiToken: string
  fetch?: typeof fetch
  timeoutMs?: number
}

export class QueueApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

const fromBase64 = (text: string) => Buffer.from(text, 'base64').toString('utf8')

/** Bodies of `json` and `bytes` messages arrive base64-encoded; `text` as is; `v8` cannot be decoded outside a Worker. */
export function decodeBody(message: PulledWireMessage): { body: unknown; decodeError?: string } {
  const contentType = message.metadata?.['CF-Content-Type'] ?? 'json'
  try {
    if (contentType === 'text') return { body: message.body }
    if (contentType === 'json') return { body: JSON.parse(fromBase64(message.body)) }
    if (contentType === 'bytes') return { body: JSON.parse(fromBase64(message.body)) } // our producers only send JSON
    return { body: undefined, decodeError: `unsupported content type '${contentType}' (send json from the producer)` }
  } catch (err) {
    return { body: undefined, decodeError: `undecodable ${contentType} body: ${String(err)}` }
  }
}

export function createPullClient(options: PullClientOptions): PullClient {
  const doFetch = options.fetch ?? fetch
  const base = `${options.apiBase.replace(/\/+$/, '')}/accounts/${encodeURIComponent(options.accountId)}/queues/${encodeURIComponent(options.queueId)}/messages`

  async function call(action: 'pull' | 'ack', body: unknown): Promise<unknown> {
    const res = await doFetch(`${base}/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    })
    const text = await res.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new QueueApiError(res.status, `queue ${action}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`)
    }
    const envelope = apiEnvelopeSchema.safeParse(json)
    if (!res.ok || !envelope.success || !envelope.data.success) {
      const errors = envelope.success ? envelope.data.errors.map((e) => `${e.code ?? ''} ${e.message}`.trim()).join('; ') : text.slice(0, 200)
      throw new QueueApiError(res.status, `queue ${action}: HTTP ${res.status}: ${errors || 'unsuccessful'}`)
    }
    return envelope.data.result
  }

  return {
    async pull({ batchSize, visibilityTimeoutMs }) {
      const result = pullResultSchema.parse(await call('pull', { batch_size: batchSize, visibility_timeout_ms: visibilityTimeoutMs }))
      return result.messages.map((m) => ({ id: m.id, leaseId: m.lease_id, attempts: m.attempts, timestampMs: m.timestamp_ms, ...decodeBody(m) }))
    },
    async ack({ acks, retries }) {
      return ackResultSchema.parse(
        await call('ack', {
          acks: acks.map((lease_id) => ({ lease_id })),
          retries: retries.map((r) => ({ lease_id: r.leaseId, delay_seconds: r.delaySeconds })),
        }),
      )
    },
  }
}
