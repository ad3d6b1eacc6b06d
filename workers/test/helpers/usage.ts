// Test helpers for the usage ledger: event factories, queue-handler calls, and ledger/rollup snapshots.
import { createExecutionContext, createMessageBatch, getQueueResult, type QueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import worker from '../../src/index.ts'
import type { UsageEvent } from '../../src/schemas/usage-event.ts'

const HOUR = 3_600_000
/**
 * A whole hour a few hours back, so tests place events in known buckets that are still inside the dedupe horizon
 * (events older than it are refused: services/usage/usage-retention.ts).
 */
export const BASE_HOUR = Math.floor(Date.now() / HOUR) * HOUR - 4 * HOUR

export function usageEvent(tenantId: string, i: number, extra: Partial<UsageEvent> = {}): UsageEvent {
  const outcomes = ['completed', 'completed', 'client_aborted', 'upstream_broken', 'upstream_error'] as const
  return {
    requestId: `${tenantId}-req-${i}`,
    tenantId,
    keyId: `key-${i % 3}`,
    model: `model-${i % 2}`,
    nodeId: 'node-a',
    endpoint: 'chat.completions',
    promptTokens: 10 + (i % 7),
    completionTokens: (i * 13) % 50,
    outcome: outcomes[i % outcomes.length] ?? 'completed',
    httpStatus: 200,
    usageSource: 'node',
    latencyMs: 100 + i,
    ttftMs: i % 4 === 0 ? null : 20,
    createdAt: BASE_HOUR + (i % 3) * HOUR + i * 1000,
    ...extra,
  }
}

export type Delivery = QueueResult & { retryDelays: (number | undefined)[] }

/**
 * Delivers `bodies` to the Worker's queue() handler as one batch (message ids stable across redeliveries).
 * `retryDelays` lists the delaySeconds of each retry() call, which QueueResult does not report.
 */
export async function deliver(bodies: unknown[], options: { attempts?: number; env?: Env; ids?: string[] } = {}): Promise<Delivery> {
  const batch = createMessageBatch(
    'usage-events',
    bodies.map((body, i) => ({
      id: options.ids?.[i] ?? (isEvent(body) ? `msg-${body.requestId}` : `msg-bad-${i}`),
      timestamp: new Date(BASE_HOUR),
      attempts: options.attempts ?? 1,
      body,
    })),
  )
  const retryDelays: (number | undefined)[] = []
  const spied: MessageBatch<unknown> = {
    queue: batch.queue,
    metadata: batch.metadata,
    ackAll: () => batch.ackAll(),
    retryAll: (o) => batch.retryAll(o),
    messages: batch.messages.map((m) => ({
      id: m.id,
      timestamp: m.timestamp,
      attempts: m.attempts,
      body: m.body,
      ack: () => m.ack(),
      retry: (o?: QueueRetryOptions) => {
        retryDelays.push(o?.delaySeconds)
        m.retry(o)
      },
    })),
  }
  const ctx = createExecutionContext()
  await worker.queue(spied, options.env ?? env)
  return { ...(await getQueueResult(batch, ctx)), retryDelays }
}

const isEvent = (body: unknown): body is UsageEvent => typeof body === 'object' && body !== null && 'requestId' in body

export type LedgerRow = { request_id: string; prompt_tokens: number; completion_tokens: number; outcome: string }
export type HourlyRow = {
  tenant_id: string
  key_id: string
  model: string
  hour_start: number
  prompt_tokens: number
  completion_tokens: number
  requests: number
  errors: number
}

export async function ledgerRows(tenantId: string): Promise<LedgerRow[]> {
  const { results } = await env.DB.prepare(
    'SELECT request_id, prompt_tokens, completion_tokens, outcome FROM usage_events WHERE tenant_id = ? ORDER BY request_id',
  )
    .bind(tenantId)
    .all<LedgerRow>()
  return results
}

export async function hourlyRows(tenantId: string): Promise<HourlyRow[]> {
  // The token columns only: the cost columns (issue 16) are checked by workers/test/billing/money-*.test.ts.
  const { results } = await env.DB.prepare(
    `SELECT tenant_id, key_id, model, hour_start, prompt_tokens, completion_tokens, requests, errors
     FROM usage_hourly WHERE tenant_id = ? ORDER BY key_id, model, hour_start`,
  )
    .bind(tenantId)
    .all<HourlyRow>()
  return results
}

/** The rollup recomputed from scratch from the ledger rows: what usage_hourly must equal. */
export async function hourlyFromLedger(tenantId: string): Promise<HourlyRow[]> {
  const { results } = await env.DB.prepare(`SELECT tenant_id, key_id, model, created_at - created_at % ${HOUR} AS hour_start,
      sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, count(*) AS requests,
      sum(outcome <> 'completed') AS errors
    FROM usage_events WHERE tenant_id = ? GROUP BY 1, 2, 3, 4 ORDER BY key_id, model, hour_start`)
    .bind(tenantId)
    .all<HourlyRow>()
  return results
}

export const sumOf = <T>(rows: T[], pick: (row: T) => number) => rows.reduce((n, r) => n + pick(r), 0)
