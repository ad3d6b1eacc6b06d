// What the stand-in saw: per-endpoint counts, the last requests (headers + parsed body), aborts and
// token counters. Written by router.ts and the handlers; read by tests and by /metrics.

import type { IncomingHttpHeaders } from 'node:http'

/** Finish reasons counted in `vllm:request_success_total{finished_reason=…}`. */
export type FinishedReason = 'stop' | 'length' | 'abort' | 'error'

export type ReceivedRequest = {
  method: string
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string
  /** Node's lower-cased header object, as received. */
  headers: IncomingHttpHeaders
  /** Parsed JSON body; the raw text when it was not JSON; undefined when empty. */
  body: unknown
}

export type Stats = {
  /** Requests per path (`/v1/chat/completions`, `/health`, …), counted on arrival, before auth. */
  requestsByPath: Record<string, number>
  /** The last RECENT_LIMIT requests to /v1/* paths, oldest first. */
  recent: ReceivedRequest[]
  /** Generation/embedding requests whose client closed the connection before the response was complete. */
  aborted: number
  /** Generation/embedding requests currently being served (including hung ones). */
  inFlight: number
  /** Cumulative prompt tokens of admitted requests (see README for the counting rule). */
  promptTokens: number
  /** Cumulative generated tokens, including those of aborted or failed requests. */
  generationTokens: number
  finished: Record<FinishedReason, number>
}

export const RECENT_LIMIT = 100

export function createStats(): Stats {
  return {
    requestsByPath: {},
    recent: [],
    aborted: 0,
    inFlight: 0,
    promptTokens: 0,
    generationTokens: 0,
    finished: { stop: 0, length: 0, abort: 0, error: 0 },
  }
}

/** Zeroes `stats` in place so references held by tests stay valid. */
export function resetStats(stats: Stats): void {
  const fresh = createStats()
  fresh.inFlight = stats.inFlight // requests still running will decrement it when they end
  Object.assign(stats, fresh)
}

export function countRequest(stats: Stats, path: string): void {
  stats.requestsByPath[path] = (stats.requestsByPath[path] ?? 0) + 1
}

export function rememberRequest(stats: Stats, request: ReceivedRequest): void {
  if (stats.recent.length >= RECENT_LIMIT) stats.recent.shift()
  stats.recent.push(request)
}
