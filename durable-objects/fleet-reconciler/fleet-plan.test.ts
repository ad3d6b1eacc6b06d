// planFleet's decisions on their own: counts, max_nodes, placements, the on-demand fallback and its reset, and
// the timed actions (terminate a failed node after its grace, re-send a launch never taken, forget terminated).
import { describe, expect, it } from 'vitest'
import { fleetRetryAfterSeconds } from '../../workers/src/services/fleet/fleet-retry-after.ts'
import { initialPlanState, nextTypicalReadyMs, planFleet, TIMINGS, type FleetNode, type FleetSpec } from './fleet-plan.ts'

const SPOT = { provider: 'gcp' as const, gpu: 'A100-80GB', gpu_count: 1, use_spot: true, disk_size: 256, vllm_args: [] }
const FLEET: FleetSpec = { minReady: 2, maxNodes: 3, placements: [SPOT, { ...SPOT, provider: 'azure' }], fallbackOnDemandAfter: 2 }
const NOW = 10_000_000
let n = 0
const node = (status: string, extra: Partial<FleetNode> = {}): FleetNode => ({
  id: `n${++n}`,
  name: `c${n}`,
  status,
  createdAt: NOW - 1_000,
  updatedAt: null,
  lastError: null,
  placement: 0,
  useSpot: true,
  attempts: 1,
  ...extra,
})
const kinds = (plan: ReturnType<typeof planFleet>) => plan.actions.map((a) => a.kind)

describe('planFleet', () => {
  it('launches what min_ready lacks, within max_nodes, counting failed and draining clusters as live', () => {
    expect(kinds(planFleet(FLEET, [], initialPlanState(), NOW))).toEqual(['launch', 'launch'])
    expect(kinds(planFleet(FLEET, [node('ready'), node('launching')], initialPlanState(), NOW))).toEqual([])
    const crowded = planFleet(FLEET, [node('failed', { updatedAt: NOW }), node('draining'), node('terminating')], initialPlanState(), NOW)
    expect(kinds(crowded)).toEqual(['blocked_max_nodes'])
    expect(crowded.counts).toEqual({ ready: 0, pending: 0, live: 3 })
    // Blocked is reported when it starts, not on every reconcile.
    expect(kinds(planFleet(FLEET, [node('draining'), node('draining'), node('draining')], crowded.next, NOW))).toEqual([])
    // Terminated nodes do not count.
    expect(kinds(planFleet(FLEET, [node('terminated', { updatedAt: NOW }), node('ready')], initialPlanState(), NOW))).toEqual(['launch'])
  })

  it('moves to the next placement after a launch failure, not after the loss of a node that served', () => {
    const failedLaunch = planFleet({ ...FLEET, minReady: 1 }, [node('failed', { lastError: 'quota: no', updatedAt: NOW })], initialPlanState(), NOW)
    expect(failedLaunch.actions[0]).toEqual({ kind: 'launch', placement: 1, useSpot: true })
    const served = node('ready', { updatedAt: NOW - 500 })
    const seen = planFleet({ ...FLEET, minReady: 1 }, [served], initialPlanState(), NOW).next
    const lost = planFleet({ ...FLEET, minReady: 1 }, [{ ...served, status: 'failed', updatedAt: NOW }], seen, NOW)
    expect(lost.actions[0]).toEqual({ kind: 'launch', placement: 0, useSpot: true })
  })

  it('falls back to on-demand after N spot capacity failures, and back to spot once a node is ready', () => {
    const capacity = (placement: number) => node('failed', { placement, lastError: 'no_capacity: out of capacity', updatedAt: NOW })
    const firstFailure = capacity(0)
    const one = planFleet({ ...FLEET, minReady: 1, maxNodes: 9 }, [firstFailure], initialPlanState(), NOW)
    expect(one.next.spotCapacityFailures).toBe(1)
    expect(one.actions).toEqual([{ kind: 'launch', placement: 1, useSpot: true }])
    const nodes = [firstFailure, capacity(1)]
    const two = planFleet({ ...FLEET, minReady: 1, maxNodes: 9 }, nodes, one.next, NOW)
    expect(two.actions).toEqual([
      { kind: 'fallback_on_demand', failures: 2 },
      { kind: 'launch', placement: 0, useSpot: false },
    ])
    // Not a capacity failure (quota) and not spot: not counted.
    const other = planFleet(
      FLEET,
      [node('failed', { lastError: 'quota: x', updatedAt: NOW }), node('failed', { useSpot: false, lastError: 'no_capacity: x', updatedAt: NOW })],
      initialPlanState(),
      NOW,
    )
    expect(other.next.spotCapacityFailures).toBe(0)
    const recovered = planFleet({ ...FLEET, minReady: 1, maxNodes: 9 }, [...nodes, node('ready', { useSpot: false, updatedAt: NOW })], two.next, NOW)
    expect(recovered.next).toMatchObject({ onDemand: false, spotCapacityFailures: 0 })
    // Without fallback_on_demand_after it never falls back.
    expect(kinds(planFleet({ ...FLEET, fallbackOnDemandAfter: null, minReady: 1, maxNodes: 9 }, nodes, one.next, NOW))).toEqual(['launch'])
  })

  it('terminates a failed node after its grace and again after the resend interval; re-sends an untaken launch; forgets terminated nodes', () => {
    const failed = node('failed', { updatedAt: NOW - TIMINGS.failedGraceMs + 1 })
    expect(kinds(planFleet({ ...FLEET, minReady: 0 }, [failed], initialPlanState(), NOW))).toEqual([])
    const due = planFleet({ ...FLEET, minReady: 0 }, [failed], initialPlanState(), NOW + 1)
    expect(kinds(due)).toEqual(['terminate_failed'])
    const sent = { ...due.next, terminateSentAt: { [failed.id]: NOW + 1 } }
    expect(kinds(planFleet({ ...FLEET, minReady: 0 }, [failed], sent, NOW + TIMINGS.terminateResendMs))).toEqual([])
    expect(kinds(planFleet({ ...FLEET, minReady: 0 }, [failed], sent, NOW + 1 + TIMINGS.terminateResendMs))).toEqual(['terminate_failed'])

    const untaken = node('queued', { attempts: 0, createdAt: NOW - TIMINGS.launchResendMs })
    expect(kinds(planFleet({ ...FLEET, minReady: 1 }, [untaken], initialPlanState(), NOW))).toEqual(['resend_launch'])
    expect(kinds(planFleet({ ...FLEET, minReady: 1 }, [{ ...untaken, attempts: 1 }], initialPlanState(), NOW))).toEqual([])

    const old = node('terminated', { updatedAt: NOW - TIMINGS.forgetAfterMs })
    expect(kinds(planFleet({ ...FLEET, minReady: 0 }, [old], initialPlanState(), NOW))).toEqual(['forget'])
  })

  it('measures launch-to-ready once per node, as a moving average', () => {
    const ready = node('ready', { createdAt: NOW - 60_000, updatedAt: NOW })
    const first = planFleet(FLEET, [ready], initialPlanState(), NOW)
    expect(first.readyDurationsMs).toEqual([60_000])
    expect(planFleet(FLEET, [ready], first.next, NOW).readyDurationsMs).toEqual([])
    expect(nextTypicalReadyMs(null, [60_000])).toBe(60_000)
    expect(nextTypicalReadyMs(60_000, [100_000])).toBe(70_000)
  })
})

describe('fleetRetryAfterSeconds', () => {
  const progress = { model: 'm', typicalReadyMs: 120_000, launchingSince: NOW - 30_000, warming: 0 }
  it('is the time left until the typical launch is ready, within 5..60 s', () => {
    expect(fleetRetryAfterSeconds(progress, NOW)).toBe(60) // 90 s left, capped
    expect(fleetRetryAfterSeconds({ ...progress, launchingSince: NOW - 100_000 }, NOW)).toBe(20)
    expect(fleetRetryAfterSeconds({ ...progress, launchingSince: NOW - 200_000 }, NOW)).toBe(5) // late: any moment
    expect(fleetRetryAfterSeconds({ ...progress, warming: 1 }, NOW)).toBe(5)
    expect(fleetRetryAfterSeconds({ ...progress, typicalReadyMs: null, launchingSince: null }, NOW)).toBe(60)
  })
})
