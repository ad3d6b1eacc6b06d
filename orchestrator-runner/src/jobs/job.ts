// What every job gets and returns. A job's outcome decides what happens to its queue message: ack (done, or
// nothing left to do) or retry after a delay (capacity, transient trouble). Jobs never throw on expected paths.
import type { NodePath } from '../cloudflare/node-path.ts'
import type { ControlPlane } from '../control-plane/client.ts'
import type { Logger } from '../log.ts'
import type { SkyCli } from '../skypilot/cli.ts'
import type { TaskOptions } from '../skypilot/task-yaml.ts'

export type JobOutcome = { kind: 'ack' } | { kind: 'retry'; delaySeconds: number }

export type JobDeps = {
  sky: SkyCli
  controlPlane: ControlPlane
  /** The node's private path (Cloudflare Tunnel + Access + DNS), created per launch attempt, removed on terminate. */
  nodePath: NodePath
  log: Logger
  task: TaskOptions
  /** Values of the secrets sky reads from its environment besides the per-launch ones (HF_TOKEN). */
  extraSecrets: Record<string, string>
  maxLaunchAttempts: number
  capacityRetryBaseSeconds: number
  retryMaxSeconds: number
  /** Aborts running sky commands on shutdown (their messages are redelivered later). */
  signal?: AbortSignal
}

export const ACK: JobOutcome = { kind: 'ack' }
export const retryIn = (delaySeconds: number): JobOutcome => ({ kind: 'retry', delaySeconds: Math.max(0, Math.round(delaySeconds)) })

/** base * 2^(attempt-1), capped: 60 s, 120 s, 240 s ... for attempts 1, 2, 3 with the default base. */
export const backoffSeconds = (attempt: number, baseSeconds: number, maxSeconds: number) => Math.min(maxSeconds, baseSeconds * 2 ** Math.max(0, attempt - 1))
