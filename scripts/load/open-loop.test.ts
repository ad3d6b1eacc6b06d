import { describe, expect, it } from 'vitest'
import { runOpenLoop, type Clock } from './open-loop.ts'

/** Virtual time: sleeping jumps to the wake-up time; a test moves time on by hand to play a busy client. */
function virtualClock() {
  let now = 1_000
  const clock: Clock = {
    now: () => now,
    sleepUntil: async (at) => {
      now = Math.max(now, at)
    },
  }
  return {
    clock,
    advance: (ms: number) => {
      now += ms
    },
  }
}

type Sent = { index: number; dueAt: number; sentAt: number; endAt: number; dropped: boolean }

describe('runOpenLoop', () => {
  it('sends each request at its due time whatever the answers do, and times latency from the due time', async () => {
    const { clock, advance } = virtualClock()
    const arrivals = Float64Array.from([0, 10, 20, 30, 40])
    const { results, startedAt } = await runOpenLoop<Sent>({
      arrivals,
      maxInFlight: 100,
      clock,
      send: async (index, dueAt) => {
        const sentAt = clock.now()
        if (index === 1) advance(25) // the client stalls while sending request 1: 2 and 3 leave late
        return { index, dueAt, sentAt, endAt: clock.now() + 5, dropped: false }
      },
      dropped: (index, dueAt) => ({ index, dueAt, sentAt: NaN, endAt: NaN, dropped: true }),
    })
    expect(results.map((r) => r.dueAt - startedAt)).toEqual([0, 10, 20, 30, 40])
    expect(results.map((r) => r.sentAt - startedAt)).toEqual([0, 10, 35, 35, 40])
    // Latency from the due time includes the time the request waited to leave: 2 and 3 show it.
    expect(results.map((r) => r.endAt - r.dueAt)).toEqual([5, 30, 20, 10, 5])
  })

  it('drops (and reports) requests due while the in-flight cap is full instead of delaying them', async () => {
    const { clock } = virtualClock()
    const release: (() => void)[] = []
    const run = runOpenLoop<Sent>({
      arrivals: Float64Array.from([0, 1, 2, 3]),
      maxInFlight: 2,
      clock,
      send: (index, dueAt) =>
        new Promise((resolve) => {
          release.push(() => resolve({ index, dueAt, sentAt: dueAt, endAt: clock.now(), dropped: false }))
        }),
      dropped: (index, dueAt) => ({ index, dueAt, sentAt: NaN, endAt: NaN, dropped: true }),
    })
    await new Promise((r) => setImmediate(r))
    release.forEach((f) => {
      f()
    })
    const { results } = await run
    expect(results.map((r) => r.dropped)).toEqual([false, false, true, true])
  })
})
