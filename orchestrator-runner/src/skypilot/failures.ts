// Turns a failed `sky launch` into a reason the control plane can show and a decision: capacity shortages are
// retried later with backoff; quota, auth and everything else fail the node (retrying cannot fix them).
// SkyPilot exits 1 with the exception text on these errors (platform-facts §7.3), so the text decides.
import type { CommandResult } from './cli.ts'

export type FailureKind = 'no_capacity' | 'quota' | 'auth' | 'timeout' | 'error'
export type LaunchFailure = { kind: FailureKind; reason: string; isRetryable: boolean }

// Order matters: SkyPilot wraps quota errors in the same ResourcesUnavailableError as capacity errors.
const PATTERNS: [Exclude<FailureKind, 'timeout' | 'error'>, RegExp][] = [
  ['quota', /quota|VcpuLimitExceeded|MaxSpotInstanceCountExceeded|QUOTA_EXCEEDED|QuotaExceeded|exceeded your .*limit|InstanceLimitExceeded/i],
  ['auth', /AuthFailure|UnauthorizedOperation|InvalidClientTokenId|NoCredentialsError|credentials (?:are )?not (?:set|found|valid)|CloudUserIdentityError|not authorized|PermissionDenied|permission denied|invalid api key/i],
  ['no_capacity', /InsufficientInstanceCapacity|insufficient capacity|ZONE_RESOURCE_POOL_EXHAUSTED|out of capacity|OutOfCapacity|no capacity|SpotMaxPriceTooLow|InsufficientCapacity|ResourcesUnavailableError|Failed to provision all possible launchable resources|not available in any|No launchable resource found/i],
]

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the ESC of ANSI colour codes is the point
const ANSI = /\u001b\[[0-9;]*m/g

/** The last meaningful lines of the output, where SkyPilot prints the error. */
export function tailOf(result: CommandResult, maxChars = 1_000): string {
  const lines = `${result.stdout}\n${result.stderr}`.replace(ANSI, '').split('\n').map((l) => l.trim()).filter(Boolean)
  return lines.slice(-8).join(' | ').slice(-maxChars)
}

export function classifyLaunchFailure(result: CommandResult): LaunchFailure {
  const tail = tailOf(result)
  if (result.timedOut) return { kind: 'timeout', reason: `timeout: sky launch did not finish in time; ${tail}`, isRetryable: false }
  const text = `${result.stdout}\n${result.stderr}`.replace(ANSI, '')
  const kind = PATTERNS.find(([, pattern]) => pattern.test(text))?.[0] ?? 'error'
  return { kind, reason: `${kind}: ${tail || `sky launch exited with ${result.exitCode}`}`, isRetryable: kind === 'no_capacity' }
}
