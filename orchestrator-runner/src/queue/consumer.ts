// The poll loop: pull as many messages as there are free job slots, run each job, then ack it or retry it with
// the delay the job chose. Pulls are short polls (Cloudflare has no long poll and bills each pull), so an empty
// queue or a failed pull backs off exponentially up to pollMaxMs; any message resets the backoff.
import type { JobOutcome } from '../jobs/job.ts'
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
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(done, ms)
  function done() { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
  signal.addEventListener('abort', done, { once: true })
})

async function settle(client: PullClient, message: PulledMessage, outcome: JobOutcome, log: Logger): Promise<void> {
  try {
    const result = outcome.kind === 'ack'
      ? await client.ack({ acks: [message.leaseId], retries: [] })
      : await client.ack({ acks: [], retries: [{ leaseId: message.leaseId, delaySeconds: outcome.delaySeconds }] })
    if (result.warnings && Object.keys(result.warnings).length > 0) log.warn('ack_warnings', { messageId: message.id, warnings: result.warnings })
  } catch (err) {
    // The message comes back after its visibility timeout; every job is idempotent.
    log.error('ack_failed', { messageId: message.id, outcome: outcome.kind, error: String(err) })
  }
}

export async function runConsumer(options: ConsumerOptions): Promise<void> {
  const { client, log, signal } = options
  const active = new Set<Promise<void>>()
  let idleMs = options.pollMinMs
  const backOff = async () => {
    await sleep(idleMs, signal)
    idleMs = Math.min(options.pollMaxMs, idleMs * 2)
  }

  while (!signal.aborted) {
    const free = options.maxConcurrency - active.size
    if (free <= 0) {
      await Promise.race([...active, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))])
      continue
    }
    let messages: PulledMessage[]
    try {
      messages = await client.pull({ batchSize: free, visibilityTimeoutMs: options.visibilityTimeoutMs })
    } catch (err) {
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
      const job: Promise<void> = options.handle(message)
        .catch((err: unknown): JobOutcome => {
          log.error('job_crashed', { messageId: message.id, error: String(err) })
          return { kind: 'retry', delaySeconds: 60 }
        })
        .then((outcome) => settle(client, message, outcome, log))
        .finally(() => active.delete(job))
      active.add(job)
    }
  }
  await Promise.allSettled(active)
}
