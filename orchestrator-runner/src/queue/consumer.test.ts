// The poll loop with an in-memory client: it acks or retries each message as its job decided, grouping the
// outcomes of jobs that ended together into one ack call, never runs more jobs than allowed, survives pull
// errors and crashing jobs, and stops pulling on shutdown.
import { describe, expect, it, vi } from 'vitest'
import type { JobOutcome } from '../jobs/job.ts'
import { silentLog } from '../log.ts'
import { runConsumer } from './consumer.ts'
import type { PullClient, PulledMessage } from './pull-client.ts'

function fakeClient(batches: (PulledMessage[] | Error)[]) {
  const pulls: number[] = []
  const acks: { acks: string[]; retries: { leaseId: string; delaySeconds: number }[] }[] = []
  const client: PullClient = {
    async pull({ batchSize }) {
      pulls.push(batchSize)
      const next = batches.shift() ?? []
      if (next instanceof Error) throw next
      return next
    },
    async ack(request) {
      acks.push(request)
      return { ackCount: request.acks.length, retryCount: request.retries.length, warnings: {} }
    },
  }
  return { client, pulls, acks }
}

const msg = (id: string): PulledMessage => ({ id, leaseId: `lease-${id}`, attempts: 1, timestampMs: 0, body: { id } })
const options = { log: silentLog, visibilityTimeoutMs: 1000, pollMinMs: 1, pollMaxMs: 5 }

describe('runConsumer', () => {
  it('acks or retries each message with the delay its job chose, in one ack call, and survives a failed pull and a crashing job', async () => {
    const { client, acks } = fakeClient([new Error('network down'), [msg('a'), msg('b'), msg('c')]])
    const stop = new AbortController()
    let open: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const outcomes: Record<string, () => Promise<JobOutcome>> = {
      a: async () => {
        await gate
        return { kind: 'ack' }
      },
      b: async () => {
        await gate
        return { kind: 'retry', delaySeconds: 120 }
      },
      c: async () => {
        await gate
        throw new Error('bug')
      },
    }
    const done = runConsumer({ ...options, client, maxConcurrency: 5, signal: stop.signal, handle: (m) => (outcomes[m.id] as () => Promise<JobOutcome>)() })
    await new Promise((r) => setTimeout(r, 20)) // all three running
    open() // ... and they end together
    await vi.waitFor(() => expect(acks).toHaveLength(1))
    stop.abort()
    await done
    expect(acks).toEqual([
      {
        acks: ['lease-a'],
        retries: [
          { leaseId: 'lease-b', delaySeconds: 120 },
          { leaseId: 'lease-c', delaySeconds: 60 },
        ],
      },
    ])
  })

  it('settles a job that ends while the loop sleeps on an empty queue without waiting out the backoff', async () => {
    const { client, acks } = fakeClient([[msg('slow')]])
    const stop = new AbortController()
    let finish: () => void = () => {}
    const done = runConsumer({
      ...options,
      pollMinMs: 60_000,
      pollMaxMs: 60_000,
      client,
      maxConcurrency: 2,
      signal: stop.signal,
      handle: () =>
        new Promise<JobOutcome>((resolve) => {
          finish = () => resolve({ kind: 'ack' })
        }),
    })
    await new Promise((r) => setTimeout(r, 20)) // the queue is empty now: the loop sleeps for a minute
    finish()
    await vi.waitFor(() => expect(acks).toEqual([{ acks: ['lease-slow'], retries: [] }]), { timeout: 1_000 })
    stop.abort()
    await done
  })

  it('pulls only as many messages as it has free job slots', async () => {
    const { client, pulls } = fakeClient([[msg('a'), msg('b')], [msg('c')]])
    const stop = new AbortController()
    const release: (() => void)[] = []
    let running = 0
    let maxRunning = 0
    const done = runConsumer({
      ...options,
      client,
      maxConcurrency: 2,
      signal: stop.signal,
      handle: () =>
        new Promise<JobOutcome>((resolve) => {
          running++
          maxRunning = Math.max(maxRunning, running)
          release.push(() => {
            running--
            resolve({ kind: 'ack' })
          })
        }),
    })
    await vi.waitFor(() => expect(release).toHaveLength(2))
    expect(pulls).toEqual([2]) // full: no pull while both slots are busy
    release.shift()?.()
    await vi.waitFor(() => expect(release).toHaveLength(2))
    expect(pulls[1]).toBe(1)
    stop.abort()
    for (const r of release) r()
    await done
    expect(maxRunning).toBe(2)
  })

  it('stops pulling on shutdown and waits for the jobs already running', async () => {
    const { client, pulls, acks } = fakeClient([[msg('a')]])
    const stop = new AbortController()
    let finish: (() => void) | undefined
    const done = runConsumer({
      ...options,
      client,
      maxConcurrency: 1,
      signal: stop.signal,
      handle: () =>
        new Promise((resolve) => {
          finish = () => resolve({ kind: 'ack' })
        }),
    })
    await vi.waitFor(() => expect(finish).toBeDefined())
    stop.abort()
    const pullsAtStop = pulls.length
    finish?.()
    await done
    expect(pulls.length).toBe(pullsAtStop)
    expect(acks).toEqual([{ acks: ['lease-a'], retries: [] }])
  })
})
