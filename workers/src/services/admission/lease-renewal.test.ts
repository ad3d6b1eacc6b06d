// An admitted request renews its lease while it runs, whatever its kind (streamed or not), and stops at settle:
// a request longer than its lease TTL keeps its concurrency slot. Against the real TenantGate object.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { spyOnGate } from '../../../test/helpers/gate-spy.ts'
import { admitRequest } from './admit-request.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** env with the tenant gate's renew calls timed (everything goes to the real object). */
function countingRenewals() {
  const renewals: number[] = []
  const gateEnv = spyOnGate(({ method }) => {
    if (method === 'renew') renewals.push(performance.now())
  })
  return { gateEnv, renewals }
}

describe('admission lease renewal', () => {
  it('keeps the slot of a request running past its lease TTL, and stops renewing once settled', async () => {
    const tenantId = `t-${crypto.randomUUID()}`
    const gate = env.TENANT_GATE.getByName(`tenant:${tenantId}`)
    await gate.configure({ tenantId, status: 'active', statusReason: null, plan: 'enterprise', limits: { concurrency: 1 } })
    const { gateEnv, renewals } = countingRenewals()
    const identity = { tenantId, keyId: 'k1', keyLimits: {} }
    const reservation = { promptTokens: 10, completionTokens: 10, isCompletionGuess: false }
    const background: Promise<unknown>[] = []
    const waitUntil = (p: Promise<unknown>) => {
      background.push(p)
    }

    const running = await admitRequest(gateEnv, identity, { reservation, leaseTtlMs: 300, waitUntil }) // renewed every 100 ms
    await sleep(700) // more than twice the TTL
    expect((await gate.inspect()).inFlight).toBe(1)
    await expect(admitRequest(gateEnv, identity, { reservation, leaseTtlMs: 300, waitUntil })).rejects.toMatchObject({
      extra: { code: 'concurrency_limit_exceeded' },
    })
    expect(renewals.length).toBeGreaterThanOrEqual(4)

    await running.settle(20)
    await Promise.all(background)
    const count = renewals.length
    await sleep(300)
    expect(renewals).toHaveLength(count)
    expect((await gate.inspect()).inFlight).toBe(0)
  })
})
