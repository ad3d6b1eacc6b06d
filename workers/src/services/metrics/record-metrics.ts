// What the request path reports, each a one-line call from where the fact is known (admission refusals,
// failed node attempts, usage events, the request middleware). Only adds to this isolate's buffer; the
// middleware schedules the flush when the request ends. Label values are bounded here.
import { FAMILIES } from '../../../../durable-objects/metrics-aggregator/contract.ts'
import type { UsageEvent } from '../../schemas/usage-event.ts'
import { addCounter, observeHistogram } from './metrics-buffer.ts'

export type RateLimitLayer = 'key_rpm' | 'rpm' | 'tpm' | 'concurrency' | 'budget_in_flight' | 'request_too_large' | 'budget'

const SCOPE_LAYERS = { key_requests: 'key_rpm', requests: 'rpm', tokens: 'tpm', concurrency: 'concurrency', budget_in_flight: 'budget_in_flight' } as const
export const layerOfScope = (scope: keyof typeof SCOPE_LAYERS): RateLimitLayer => SCOPE_LAYERS[scope]

export function countRateLimited(layer: RateLimitLayer): void {
  addCounter(FAMILIES.rateLimited.name, { layer })
}

/** Refused API keys (middleware/api-key-auth.ts, admission's `revoked`); `throttled`: answered 429 by the per-client bound. */
export type AuthFailureReason = 'malformed' | 'checksum' | 'unknown' | 'revoked' | 'throttled'
export function countAuthFailureReason(reason: AuthFailureReason): void {
  addCounter(FAMILIES.authFailures.name, { reason })
}

/** Console sign-in callbacks by outcome (routes/console/sign-in.ts). */
export type SignInOutcome = 'signed_in' | 'refused' | 'unverified' | 'expired' | 'provider_unavailable'
export function countSignIn(outcome: SignInOutcome): void {
  addCounter(FAMILIES.consoleSignIns.name, { outcome })
}

/** `kind`: a failure before the first byte, `http_4xx`/`http_5xx` from the node, or `stream_broken`. */
export function countUpstreamError(nodeId: string, kind: string): void {
  addCounter(FAMILIES.upstreamErrors.name, { node: nodeId, kind })
}

/** `dependency`: d1, tenant_gate, node_monitor or queue (dependency.ts). */
export function countDependencyFailure(dependency: string): void {
  addCounter(FAMILIES.dependencyFailures.name, { dependency })
}

export const httpErrorKind = (status: number) => (status >= 500 ? 'http_5xx' : status >= 400 ? 'http_4xx' : 'http_3xx')

/**
 * Tokens and time to first token from the request's one usage event. Its model is one a registered node
 * serves (no event is recorded unless a node took the request), so the label is bounded by the fleet.
 */
export function observeUsage(event: UsageEvent): void {
  if (event.promptTokens > 0) addCounter(FAMILIES.tokens.name, { direction: 'prompt', model: event.model }, event.promptTokens)
  if (event.completionTokens > 0) addCounter(FAMILIES.tokens.name, { direction: 'completion', model: event.model }, event.completionTokens)
  if (event.ttftMs !== null) observeHistogram(FAMILIES.ttft, { model: event.model }, event.ttftMs / 1000)
}
