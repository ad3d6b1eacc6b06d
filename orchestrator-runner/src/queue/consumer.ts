// The poll loop: pull as many messages as there are free job slots, run each job, and settle the outcomes
// (ack, or retry with the delay the job chose) in one ack call per loop turn, grouping every job that ended
// since the last one (the ack API takes acks and retries together). Pulls are short polls (Cloudflare has no
// long poll and bills each pull), so an empty queue or a failed pull backs off exponentially up to pollMaxMs;
// any message resets the backoff, and a job that ends wakes the loop so its outcome is not held back.
import type { JobOutcome } from '../jobs/job.ts'
import type { RunnerHealth } from '../health.ts'
import type { Logger } from '../log.ts'
import type { PullClient, PulledMessage } from './pull-client.ts'

export type ConsumerOptions = {
  client: PullClient
  handle: (message: PulledMessage) => Promise<JobOutcome>
  log: Logger
  maxConcurrency: number
  visibilityTimeoutMs: number
  pollMinMs: number
  pollMaxMs: number
  /** Stops pulling; jobs already running finish (the caller bounds how long it waits). */
  signal: AbortSignal
  /** Told of each pull and whether every slot is busy (health.ts). */
  health?: Pick<RunnerHealth, 'pulled' | 'saturated'>
}

type Settlement = { message: PulledMessage; outcome: JobOutcome }

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve() // e.g. a job ended between the flush and this sleep
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

async function settle(client: PullClient, batch: Settlement[], log: Logger): Promise<void> {
  if (batch.length === 0) return
  const acks = batch.filter((s) => s.outcome.kind === 'ack').map((s) => s.message.leaseId)
  const retries = batch.flatMap((s) => (s.outcome.kind === 'retry' ? [{ leaseId: s.message.leaseId, delaySeconds: s.outcome.delaySeconds }] : []))
  try {
    const result = await client.ack({ acks, retries })
    if (result.warnings && Object.keys(result.warnings).length > 0)
      log.warn('ack_warnings', { messageIds: batch.map((s) => s.message.id), warnings: result.warnings })
  } catch (err) {
    // The messages come back after their visibility timeout; every job is idempotent.
    log.error('ack_failed', { messageIds: batch.map((s) => s.message.id), acks: acks.length, retries: retries.length, error: String(err) })
  }
}

export async function runConsumer(options: ConsumerOptions): Promise<void> {
  const { client, log, signal } = options
  const active = new Set<Promise<void>>()
  const ended: Settlement[] = []
  // Aborted when a job ends, so an idle backoff sleep does not hold its outcome back; renewed after each use.
  let wake = new AbortController()
  let idleMs = options.pollMinMs
  const backOff = async () => {
    await sleep(idleMs, AbortSignal.any([signal, wake.signal]))
    idleMs = Math.min(options.pollMaxMs, idleMs * 2)
  }
  const flush = async () => {
    if (wake.signal.aborted) wake = new AbortController()
    await settle(client, ended.splice(0), log)
  }

  while (!signal.aborted) {
    await flush()
    const free = options.maxConcurrency - active.size
    options.health?.saturated(free <= 0)
    if (free <= 0) {
      await Promise.race([...active, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))])
      continue
    }
    let messages: PulledMessage[]
    try {
      messages = await client.pull({ batchSize: free, visibilityTimeoutMs: options.visibilityTimeoutMs })
      options.health?.pulled(true)
    } catch (err) {
      options.health?.pulled(false)
      log.error('pull_failed', { error: String(err), retryInMs: idleMs })
      await backOff()
      continue
    }
    if (messages.length === 0) {
      await backOff()
      continue
    }
    idleMs = options.pollMinMs
    for (const message of messages) {
      const job: Promise<void> = options
        .handle(message)
        .catch((err: unknown): JobOutcome => {
          log.error('job_crashed', { messageId: message.id, error: String(err) })
          return { kind: 'retry', delaySeconds: 60 }
        })
        .then((outcome) => {
          ended.push({ message, outcome })
          wake.abort()
        })
        .finally(() => active.delete(job))
      active.add(job)
    }
  }
  await Promise.allSettled(active)
  await flush()
}
