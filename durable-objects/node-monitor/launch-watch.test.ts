import { describe, expect, it } from 'vitest'
import { watchLaunch, type LaunchWatchInput } from './launch-watch.ts'

const TIMEOUT = 45 * 60_000
const input = (over: Partial<LaunchWatchInput>): LaunchWatchInput => ({
  status: 'launching',
  attempt: 1,
  watch: null,
  hasPendingTerminate: false,
  now: 1_000_000,
  ...over,
})

describe('launch deadline', () => {
  it('starts the clock when it first sees the attempt, and keeps it across launching -> warming', () => {
    const first = watchLaunch(input({}), TIMEOUT)
    expect(first).toEqual({ step: { kind: 'wait' }, watch: { attempt: 1, since: 1_000_000 } })
    const warming = watchLaunch(input({ status: 'warming', watch: first.watch, now: 1_000_000 + 60_000 }), TIMEOUT)
    expect(warming).toEqual({ step: { kind: 'probe' }, watch: { attempt: 1, since: 1_000_000 } })
  })

  it('fails the node with the reason once the deadline passed, launching or warming', () => {
    for (const status of ['launching', 'warming']) {
      const { step } = watchLaunch(input({ status, watch: { attempt: 1, since: 0 }, now: TIMEOUT }), TIMEOUT)
      expect(step).toEqual({ kind: 'fail', from: status, reason: expect.stringMatching(new RegExp(`^launch deadline passed: still ${status} after 45 min`)) })
    }
  })

  it('gives a new attempt (capacity retry, relaunch) its own deadline', () => {
    const { step, watch } = watchLaunch(input({ attempt: 2, watch: { attempt: 1, since: 0 }, now: TIMEOUT + 1 }), TIMEOUT)
    expect(step).toEqual({ kind: 'wait' })
    expect(watch).toEqual({ attempt: 2, since: TIMEOUT + 1 })
  })

  it('does not time out queued nodes (waiting for capacity) nor nodes past the launch', () => {
    expect(watchLaunch(input({ status: 'queued', watch: { attempt: 1, since: 0 }, now: 10 * TIMEOUT }), TIMEOUT)).toEqual({
      step: { kind: 'wait' },
      watch: null,
    })
    for (const status of ['ready', 'draining']) expect(watchLaunch(input({ status, now: 10 * TIMEOUT }), TIMEOUT).step).toEqual({ kind: 'probe' })
  })

  it('tears a failed node down once (terminate while one is pending), never revives it', () => {
    expect(watchLaunch(input({ status: 'failed', hasPendingTerminate: true }), TIMEOUT).step).toEqual({ kind: 'terminate' })
    expect(watchLaunch(input({ status: 'failed' }), TIMEOUT).step).toEqual({ kind: 'stop' })
  })
})
