// One RPC to the tenant's admission object per request (carrying the isolate's pending settles, see
// gate-channel.ts). Refusals become the client's 401/403/429 in OpenAI's format with Retry-After and
// x-ratelimit-* headers; an admission carries the headers for the response, renews its lease while the request
// runs and settles it exactly once (the caller hands the promise to waitUntil).
import {
  type BillCap,
  DEFAULT_LEASE_TTL_MS,
  tenantGateName,
  type Admitted,
  type AdmitResult,
  type LedgerRefusal,
  type Reservation,
} from '../../../../durable-objects/tenant-gate/contract.ts'
import { dependsOn } from '../../dependency.ts'
import { loadConfig } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { log } from '../../log.ts'
import { countAuthFailureReason, countRateLimited, layerOfScope } from '../metrics/record-metrics.ts'
import type { TenantIdentity } from '../keys/resolve-key.ts'
import { leaseIssuer, locationName } from '../../../../durable-objects/admission-location/contract.ts'
import { formatMicroUsd } from '../../schemas/prices.ts'
import { channelOfLease, gateChannel, locationChannel } from './gate-channel.ts'
import { learnTenantRpm, shardFor } from './location-shards.ts'
import { formatDuration, rateLimitHeaders, retryAfterHeaders } from './rate-limit-headers.ts'

export type AdmitOptions = {
  /** The request's waitUntil: settles are sent after the response, in the background. */
  waitUntil: (p: Promise<unknown>) => void
  /** Tokens to hold until settle; omit for a request that generates nothing (no lease is taken). */
  reservation?: Reservation
  leaseTtlMs?: number
}

export type Admission = {
  /** x-ratelimit-* headers for the response. */
  headers: Record<string, string>
  /** Tokens the lease holds (may be less than the reservation asked, see Admitted); 0 without a lease. */
  reservedTokens: number
  /** Under a budget: the most the request may be billed (the usage is clamped to it before settle and the ledger). */
  billCap: BillCap | null
  /**
   * Settles the lease with the tokens the request really used (0 if it never reached a node) and their cost in
   * micro-dollars at the reserved prices. Only the first call counts; later calls and requests without a lease
   * resolve at once. Never rejects.
   */
  settle(usedTokens: number, usedMicroUsd?: number): Promise<void>
}

/**
 * A running request renews its lease every third of its TTL, and at least this often: a tenant without a budget
 * keeps its leases in memory only, and an object that sees no call for 70 s may be evicted, forgetting them.
 */
const LEASE_RENEW_MAX_MS = 50_000
const RENEWALS_PER_TTL = 3

export async function admitRequest(env: Env, identity: TenantIdentity, options: AdmitOptions): Promise<Admission> {
  // Near the client when its location is known (a location object with a slice of the tenant's limits), else home.
  const { location, tenantId } = identity
  const shard = location ? shardFor(tenantId, loadConfig(env).ADMISSION_LOCATION_SHARDS) : 0
  const channel = location ? locationChannel(locationName(tenantId, location, shard)) : gateChannel(tenantId)
  const result: AdmitResult = await dependsOn('tenant_gate', () =>
    channel.admit(
      env,
      {
        tenantId: identity.tenantId,
        keyId: identity.keyId,
        keyLimits: identity.keyLimits,
        reservation: options.reservation ?? null,
        leaseTtlMs: options.leaseTtlMs,
      },
      options.waitUntil,
    ),
  )
  if (result.ok) {
    if (location) learnTenantRpm(tenantId, result.rate.requests?.limit ?? null)
    return admission(env, result, identity, options)
  }
  switch (result.reason) {
    case 'key_revoked':
      countAuthFailureReason('revoked')
      throw new ApiError('unauthorized', 'This API key has been revoked.', { code: 'invalid_api_key' })
    case 'tenant_unknown':
      countAuthFailureReason('unknown')
      throw new ApiError('unauthorized', 'Incorrect API key provided.', { code: 'invalid_api_key' })
    case 'tenant_suspended':
      throw new ApiError('forbidden', result.message, { code: 'account_suspended', headers: { 'x-should-retry': 'false' } })
    case 'rate_limited':
      countRateLimited(layerOfScope(result.scope))
      throw new ApiError('rate_limited', rateLimitedMessage(result), {
        code: result.scope === 'concurrency' ? 'concurrency_limit_exceeded' : 'rate_limit_exceeded',
        headers: { ...rateLimitHeaders(result.rate), ...retryAfterHeaders(result.retryAfterMs) },
      })
    case 'request_too_large': // waiting never helps: tell the SDKs not to retry
      countRateLimited('request_too_large')
      throw new ApiError(
        'rate_limited',
        `Request too large for tokens per minute (TPM): Limit ${result.limit}, Requested ${result.requested} (prompt estimate plus max_tokens). Lower max_tokens or shorten the prompt.`,
        { code: 'request_too_large', headers: { ...rateLimitHeaders(result.rate), 'x-should-retry': 'false' } },
      )
    case 'invalid_reservation': // reservationFor refuses these first; the object refuses them too
      throw new ApiError('invalid_request', 'Invalid request: the token counts it implies are not finite.', { param: 'max_tokens', code: 'invalid_value' })
    case 'budget_exhausted':
      countRateLimited('budget')
      throw new ApiError(
        'quota_exceeded',
        result.unit === 'micro_usd'
          ? `You exceeded your budget for ${result.period}: Budget $${formatMicroUsd(result.budget)}, Used $${formatMicroUsd(result.used)}, Requested up to $${formatMicroUsd(result.requested)} (prompt bound plus max_tokens at the model's prices). Raise budget_usd or wait for the next period.`
          : `You exceeded your token budget for ${result.period}: Budget ${result.budget}, Used ${result.used}, Requested ${result.requested}. Raise the budget or wait for the next period.`,
        { code: 'insufficient_quota', headers: { ...rateLimitHeaders(result.rate), 'x-should-retry': 'false' } },
      )
    default: {
      const unreachable: never = result
      throw new Error(`unhandled admission refusal ${JSON.stringify(unreachable)}`)
    }
  }
}

function admission(env: Env, admitted: Admitted, identity: TenantIdentity, { leaseTtlMs = DEFAULT_LEASE_TTL_MS, waitUntil }: AdmitOptions): Admission {
  let settled: Promise<void> | null = null
  const { leaseId } = admitted
  // Until settle, so a request running longer than the TTL keeps its concurrency slot. A failed renew only
  // risks the slot being freed early; the next one tries again.
  const renewals =
    leaseId === null
      ? undefined
      : setInterval(
          () => {
            const issuer = leaseIssuer(leaseId)
            const renewal = issuer
              ? env.ADMISSION_LOCATION.getByName(issuer).renew(leaseId, leaseTtlMs)
              : env.TENANT_GATE.getByName(tenantGateName(identity.tenantId)).renew(leaseId, leaseTtlMs)
            renewal.catch((err: unknown) => log.warn('admission_renew_failed', { tenantId: identity.tenantId, leaseId, error: String(err) }))
          },
          Math.min(LEASE_RENEW_MAX_MS, Math.ceil(leaseTtlMs / RENEWALS_PER_TTL)),
        )
  return {
    headers: rateLimitHeaders(admitted.rate),
    reservedTokens: admitted.reservedTokens,
    billCap: admitted.billCap ?? null,
    settle(usedTokens, usedMicroUsd) {
      if (settled) return Promise.resolve()
      clearInterval(renewals)
      settled = leaseId === null ? Promise.resolve() : channelOfLease(identity.tenantId, leaseId).settle(env, leaseId, usedTokens, waitUntil, usedMicroUsd)
      return settled
    },
  }
}

function rateLimitedMessage(r: Extract<LedgerRefusal, { reason: 'rate_limited' }>): string {
  const wait = `Please try again in ${formatDuration(r.retryAfterMs)}.`
  switch (r.scope) {
    case 'key_requests':
      return `Rate limit reached for requests per minute (RPM) on this API key: Limit ${r.limit}, Used ${r.used}, Requested 1. ${wait}`
    case 'requests':
      return `Rate limit reached for requests per minute (RPM): Limit ${r.limit}, Used ${r.used}, Requested 1. ${wait}`
    case 'tokens':
      return `Rate limit reached for tokens per minute (TPM): Limit ${r.limit}, Used ${r.used}, Requested ${r.requested} (prompt estimate plus max_tokens). ${wait}`
    case 'concurrency':
      return `Too many requests in flight: Limit ${r.limit} concurrent requests. Please try again when one finishes.`
    case 'budget_in_flight':
      if (r.unit === 'micro_usd')
        return `Requests still running hold the rest of your budget: Budget $${formatMicroUsd(r.limit)}, Used or held $${formatMicroUsd(r.used)}, Requested up to $${formatMicroUsd(r.requested)}. ${wait}`
      return `Requests still running hold the rest of your token budget: Budget ${r.limit}, Used or held ${r.used}, Requested ${r.requested}. ${wait}`
    default: {
      const unreachable: never = r.scope
      throw new Error(`unhandled rate-limit scope ${String(unreachable)}`)
    }
  }
}
