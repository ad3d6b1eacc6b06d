import { describe, expect, it } from 'vitest'
import { NODE_STATUSES } from '../../schemas/node-ops.ts'
import { nextStatus, type LifecycleEvent } from './launch-lifecycle.ts'

const runner = (status: 'launching' | 'queued' | 'failed' | 'terminating' | 'terminated'): LifecycleEvent => ({ type: 'runner', status })

describe('node lifecycle', () => {
  it('walks the happy path: queued -> launching -> warming -> ready -> draining -> terminating -> terminated', () => {
    const steps: LifecycleEvent[] = [
      runner('launching'),
      { type: 'registered' },
      { type: 'healthy' },
      { type: 'terminate_requested' },
      runner('terminating'),
      runner('terminated'),
    ]
    const seen = steps.reduce<string[]>((acc, event) => acc.concat(nextStatus(acc.at(-1) as string, event) ?? 'REFUSED'), ['queued'])
    expect(seen).toEqual(['queued', 'launching', 'warming', 'ready', 'draining', 'terminating', 'terminated'])
  })

  it('never lets a late launch report undo a terminate request', () => {
    for (const status of ['draining', 'terminating', 'terminated'] as const) {
      expect(nextStatus(status, runner('launching'))).toBeNull()
      expect(nextStatus(status, runner('failed'))).toBeNull()
      expect(nextStatus(status, { type: 'registered' })).toBeNull()
    }
  })

  it('ignores a redelivered terminate once the node was relaunched', () => {
    for (const status of ['queued', 'launching', 'warming', 'ready'] as const) {
      expect(nextStatus(status, runner('terminating'))).toBeNull()
      expect(nextStatus(status, runner('terminated'))).toBeNull()
    }
  })

  it('sends a node waiting for capacity back to queued and lets it launch again', () => {
    expect(nextStatus('launching', runner('queued'))).toBe('queued')
    expect(nextStatus('queued', runner('launching'))).toBe('launching')
  })

  it('does not let the runner fail a node that already registered (it is past the launch)', () => {
    expect(nextStatus('warming', runner('failed'))).toBeNull()
    expect(nextStatus('ready', runner('failed'))).toBeNull()
  })

  it('lets a node register once per launch attempt, while it runs (launching)', () => {
    expect(NODE_STATUSES.filter((s) => nextStatus(s, { type: 'registered' }) !== null)).toEqual(['launching'])
  })

  it('lets the runner tear down a failed node (deadline passed or lost to preemption)', () => {
    expect(nextStatus('failed', runner('terminating'))).toBe('terminating')
    expect(nextStatus('failed', runner('terminated'))).toBe('terminated')
  })

  it('promotes only warming nodes', () => {
    expect(NODE_STATUSES.filter((s) => nextStatus(s, { type: 'healthy' }) !== null)).toEqual(['warming'])
  })

  it('terminates from anything but terminated, and relaunches only failed or terminated nodes', () => {
    expect(NODE_STATUSES.filter((s) => nextStatus(s, { type: 'terminate_requested' }) === null)).toEqual(['terminated'])
    expect(NODE_STATUSES.filter((s) => nextStatus(s, { type: 'relaunch_requested' }) !== null)).toEqual(['terminated', 'failed'])
  })
})
