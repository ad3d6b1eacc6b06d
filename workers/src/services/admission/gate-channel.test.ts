// Settles ride with the next admit to the same tenant object instead of making their own RPC, and go on their
// own after the linger when no admit comes. Against the real TenantGate object, with its RPCs counted.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { spyOnGate } from '../../../test/helpers/gate-spy.ts'
import { gateChannel } from './gate-channel.ts'

/** Records the gate RPCs (method, settles carried); the first `failAdmits` admitMany calls fail. */
function countingEnv({ failAdmits = 0 } = {}) {
  let failuresLeft = failAdmits
  const calls: { method: string; settles: number }[] = []
  const gateEnv = spyOnGate(({ method, args }) => {
    if (method === 'admitMany') {
      calls.push({ method, settles: (args[0] as { settles: unknown[] }).settles.length })
      if (failuresLeft-- > 0) throw new Error('admission object failed')
    } else if (method === 'settleMany') calls.push({ method, settles: (args[0] as unknown[]).length })
  })
  return { gateEnv, calls }
}

async function tenantWithOneSlot() {
  const tenantId = `t-${crypto.randomUUID()}`
  const gate = env.TENANT_GATE.getByName(`tenant:${tenantId}`)
  await gate.configure({ tenantId, status: 'active', statusReason: null, plan: 'enterprise', limits: { concurrency: 1 } })
  const input = { tenantId, keyId: 'k1', reservation: { promptTokens: 10, completionTokens: 10, isCompletionGuess: false } }
  return { tenantId, gate, input }
}

const leaseOf = (r: { ok: boolean; leaseId?: string | null }) => {
  if (!r.ok || !r.leaseId) throw new Error(`expected a lease, got ${JSON.stringify(r)}`)
  return r.leaseId
}

describe('gate channel', () => {
  it('sends a settle with the next admit, applied before it (the freed slot admits it)', async () => {
    const { tenantId, input } = await tenantWithOneSlot()
    const { gateEnv, calls } = countingEnv()
    const background: Promise<unknown>[] = []
    const waitUntil = (p: Promise<unknown>) => {
      background.push(p)
    }
    const channel = gateChannel(tenantId)
    const first = leaseOf(await channel.admit(gateEnv, input, waitUntil))
    background.push(channel.settle(gateEnv, first, 15, waitUntil))
    leaseOf(await channel.admit(gateEnv, input, waitUntil)) // one slot: admitted only because the settle went first
    await Promise.all(background)
    expect(calls).toEqual([
      { method: 'admitMany', settles: 0 },
      { method: 'admitMany', settles: 1 },
    ])
  })

  it('sends settles on their own, together, when no admit comes within the linger', async () => {
    const { tenantId, gate, input } = await tenantWithOneSlot()
    const { gateEnv, calls } = countingEnv()
    const background: Promise<unknown>[] = []
    const waitUntil = (p: Promise<unknown>) => {
      background.push(p)
    }
    const lease = leaseOf(await gateChannel(tenantId).admit(gateEnv, input, waitUntil))
    const flushed = gateChannel(tenantId).settle(gateEnv, lease, 15, waitUntil)
    gateChannel(tenantId).settle(gateEnv, 'lease-unknown', 1, waitUntil) // rides in the same settleMany
    await flushed
    await Promise.all(background)
    expect(calls).toEqual([
      { method: 'admitMany', settles: 0 },
      { method: 'settleMany', settles: 2 },
    ])
    expect((await gate.inspect()).inFlight).toBe(0)
  })

  it('sends again the settles an admit carried when that admit failed, whatever its error', async () => {
    const { tenantId, gate, input } = await tenantWithOneSlot()
    const ok = countingEnv()
    const background: Promise<unknown>[] = []
    const waitUntil = (p: Promise<unknown>) => {
      background.push(p)
    }
    const lease = leaseOf(await gateChannel(tenantId).admit(ok.gateEnv, input, waitUntil))
    const failing = countingEnv({ failAdmits: 1 })
    const channel = gateChannel(tenantId)
    background.push(channel.settle(failing.gateEnv, lease, 15, waitUntil))
    await expect(channel.admit(failing.gateEnv, input, waitUntil)).rejects.toThrow('admission object failed')
    await Promise.all(background)
    expect(failing.calls).toEqual([
      { method: 'admitMany', settles: 1 },
      { method: 'settleMany', settles: 1 },
    ])
    expect((await gate.inspect()).inFlight).toBe(0)
  })
})
