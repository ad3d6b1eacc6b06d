import { describe, expect, it } from 'vitest'
import { applyCheck, nextLifecycle, unknownHealth, type HealthCheck, type HealthState, type LifecycleInput } from './node-lifecycle.ts'

const config = { unhealthyAfter: 3, drainMinMs: 5_000, drainTimeoutMs: 600_000 }
const T0 = 5_000_000
const up: HealthCheck = { ok: true, load: null }
const down: HealthCheck = { ok: false, error: 'connect refused' }
const idle: HealthCheck = { ok: true, load: { waiting: 0, running: 0, kvCacheUsage: 0.1, scrapedAt: T0 } }
const busy: HealthCheck = { ok: true, load: { waiting: 1, running: 2, kvCacheUsage: 0.1, scrapedAt: T0 } }

function checks(list: HealthCheck[], start = unknownHealth(T0)): HealthState {
  return list.reduce((h, c, i) => applyCheck(h, c, T0 + i, config.unhealthyAfter), start)
}
const input = (over: Partial<LifecycleInput>): LifecycleInput => ({
  status: 'ready',
  check: up,
  health: checks([up]),
  removal: null,
  isFailedByMonitor: false,
  now: T0,
  ...over,
})

describe('applyCheck', () => {
  it('becomes unhealthy only after the configured number of consecutive failures', () => {
    expect(checks([down, down])).toMatchObject({ state: 'unknown', consecutiveFailures: 2, lastError: 'connect refused' })
    expect(checks([down, down, down])).toMatchObject({ state: 'unhealthy', consecutiveFailures: 3, since: T0 + 2 })
  })
  it('is healthy again at the first good check, keeping the last error for the record', () => {
    const h = checks([down, down, down, up])
    expect(h).toMatchObject({ state: 'healthy', consecutiveFailures: 0, since: T0 + 3, lastOkAt: T0 + 3, lastError: 'connect refused' })
  })
})

describe('nextLifecycle', () => {
  it('promotes a warming or launching node to ready at its first good check', () => {
    expect(nextLifecycle(input({ status: 'warming' }), config)).toMatchObject({ kind: 'set_status', from: 'warming', to: 'ready' })
    expect(nextLifecycle(input({ status: 'launching' }), config)).toMatchObject({ kind: 'set_status', to: 'ready' })
  })
  it('leaves a warming node warming while it does not answer, however long', () => {
    expect(nextLifecycle(input({ status: 'warming', check: down, health: checks([down, down, down, down]) }), config)).toEqual({ kind: 'stay' })
  })
  it('marks a ready node failed after consecutive failed checks, not before', () => {
    expect(nextLifecycle(input({ check: down, health: checks([down, down]) }), config)).toEqual({ kind: 'stay' })
    expect(nextLifecycle(input({ check: down, health: checks([down, down, down]) }), config)).toMatchObject({
      kind: 'set_status',
      from: 'ready',
      to: 'failed',
      reason: expect.stringContaining('connect refused'),
    })
  })
  it("revives only nodes it failed itself (a launcher's failed node stays failed)", () => {
    expect(nextLifecycle(input({ status: 'failed', isFailedByMonitor: true }), config)).toMatchObject({ kind: 'set_status', to: 'ready' })
    expect(nextLifecycle(input({ status: 'failed', isFailedByMonitor: false }), config)).toEqual({ kind: 'stay' })
  })
  it('stops for nodes that are gone or being torn down', () => {
    for (const status of ['gone', 'terminating', 'terminated']) expect(nextLifecycle(input({ status }), config)).toEqual({ kind: 'stop' })
  })
  it('keeps a drained-for-maintenance node draining', () => {
    expect(nextLifecycle(input({ status: 'draining', check: idle }), config)).toEqual({ kind: 'stay' })
  })

  describe('removal', () => {
    const removal = { requestedAt: T0 }
    const at = (ms: number, check: HealthCheck) => nextLifecycle(input({ status: 'draining', removal, check, now: T0 + ms }), config)
    it('waits the minimum drain time even when the node is idle', () => {
      expect(at(4_999, idle)).toEqual({ kind: 'stay' })
      expect(at(5_000, idle)).toMatchObject({ kind: 'remove', reason: expect.stringContaining('drained') })
    })
    it('waits while the node still runs or queues requests, up to the drain timeout', () => {
      expect(at(60_000, busy)).toEqual({ kind: 'stay' })
      expect(at(600_000, busy)).toMatchObject({ kind: 'remove', reason: 'drain timeout reached' })
    })
    it('waits for the timeout when the node reports no metrics', () => {
      expect(at(60_000, up)).toEqual({ kind: 'stay' })
    })
    it('removes an unreachable node at once: nothing is left to drain', () => {
      expect(at(5_000, down)).toMatchObject({ kind: 'remove' })
    })
  })
})
