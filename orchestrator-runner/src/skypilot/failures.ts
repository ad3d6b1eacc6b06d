// Turns a failed `sky launch` into a reason the control plane can show and a decision: capacity shortages are
// retried later with backoff; quota, auth, a request no cloud can ever satisfy and everything else fail the node
// (retrying cannot fix them). SkyPilot exits 1 with the exception text on these errors (platform-facts §7.3), so
// the text decides.
import type { CommandResult } from './cli.ts'

export type FailureKind = 'no_capacity' | 'quota' | 'auth' | 'unsatisfiable' | 'timeout' | 'error'
export type LaunchFailure = { kind: FailureKind; reason: string; isRetryable: boolean }

// A provisioning failover ran: the catalog had candidates, and each was out of capacity (or the like).
const FAILOVER =
  /Failed to provision all possible launchable resources|InsufficientInstanceCapacity|insufficient capacity|ZONE_RESOURCE_POOL_EXHAUSTED|out of capacity|OutOfCapacity|no capacity|SpotMaxPriceTooLow|InsufficientCapacity/i

// Order matters: SkyPilot wraps quota errors, and its optimizer's "nothing in the catalog" answer, in the same
// ResourcesUnavailableError as capacity errors.
const RULES: [Exclude<FailureKind, 'timeout' | 'error'>, (text: string) => boolean][] = [
  ['quota', (t) => /quota|VcpuLimitExceeded|MaxSpotInstanceCountExceeded|QUOTA_EXCEEDED|QuotaExceeded|exceeded your .*limit|InstanceLimitExceeded/i.test(t)],
  [
    'auth',
    (t) =>
      /AuthFailure|UnauthorizedOperation|InvalidClientTokenId|NoCredentialsError|credentials (?:are )?not (?:set|found|valid)|CloudUserIdentityError|not authorized|PermissionDenied|permission denied|invalid api key/i.test(
        t,
      ),
  ],
  // SkyPilot's optimizer (sky/optimizer.py): "No launchable resource found for task … This means the catalog does
  // not contain any resources that satisfy this request" (e.g. AWS A100:1: AWS sells A100 only as 8 GPUs). It is
  // raised before anything is provisioned and is permanent; the same words after a failover mean capacity.
  ['unsatisfiable', (t) => /No launchable resource found|catalog does not contain any resources/i.test(t) && !FAILOVER.test(t)],
  ['no_capacity', (t) => FAILOVER.test(t) || /ResourcesUnavailableError|not available in any/i.test(t)],
]

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the ESC of ANSI colour codes is the point
const ANSI = /\u001b\[[0-9;]*m/g

/** The last meaningful lines of the output, where SkyPilot prints the error. */
export function tailOf(result: CommandResult, maxChars = 1_000): string {
  const lines = `${result.stdout}\n${result.stderr}`
    .replace(ANSI, '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  return lines.slice(-8).join(' | ').slice(-maxChars)
}

export function classifyLaunchFailure(result: CommandResult): LaunchFailure {
  const tail = tailOf(result)
  if (result.timedOut) return { kind: 'timeout', reason: `timeout: sky launch did not finish in time; ${tail}`, isRetryable: false }
  const text = `${result.stdout}\n${result.stderr}`.replace(ANSI, '')
  const kind = RULES.find(([, matches]) => matches(text))?.[0] ?? 'error'
  return { kind, reason: `${kind}: ${tail || `sky launch exited with ${result.exitCode}`}`, isRetryable: kind === 'no_capacity' }
}
