// The open-loop dispatcher: sends request i at its due time whatever happened to the requests before it, and
// hands the sender that due time so latency is measured from when the request SHOULD have left (a client that
// waits for answers before sending more, like wrk or autocannon, hides the server's queueing delay: coordinated
// omission). Requests over the in-flight cap are not sent and are reported as dropped, never silently delayed.

export type Clock = { now(): number; sleepUntil(at: number): Promise<void> }

export const realClock: Clock = {
  now: () => performance.now(),
  sleepUntil: (at) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now()))),
}

export type OpenLoopOptions<R> = {
  /** Due times in ms from the start, ascending (schedule.ts). */
  arrivals: Float64Array
  /** Requests allowed in flight at once; beyond it a due request is dropped (the client could not keep up). */
  maxInFlight: number
  clock: Clock
  /** Sends request `index`, due at clock time `dueAt`, and resolves with its outcome (never rejects). */
  send(index: number, dueAt: number): Promise<R>
  dropped(index: number, dueAt: number): R
}

/** Runs the schedule to its end and waits for every request sent; `startedAt` is the clock time of arrival 0. */
export async function runOpenLoop<R>(options: OpenLoopOptions<R>): Promise<{ results: R[]; startedAt: number }> {
  const { arrivals, clock } = options
  const results: R[] = new Array<R>(arrivals.length)
  const pending = new Set<Promise<void>>()
  const startedAt = clock.now()
  for (let i = 0; i < arrivals.length; i++) {
    const dueAt = startedAt + arrivals[i]!
    // Behind schedule (a busy event loop), the late ones go at once, one after another, still timed from dueAt.
    if (clock.now() < dueAt) await clock.sleepUntil(dueAt)
    if (pending.size >= options.maxInFlight) {
      results[i] = options.dropped(i, dueAt)
      continue
    }
    const p: Promise<void> = options
      .send(i, dueAt)
      .then((r) => {
        results[i] = r
      })
      .finally(() => pending.delete(p))
    pending.add(p)
  }
  await Promise.all(pending)
  return { results, startedAt }
}
