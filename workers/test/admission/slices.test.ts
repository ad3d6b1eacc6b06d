// Admission slices with the real objects (TenantGate at home, AdmissionLocation per location hint) and the simulated
// distance on (ADMISSION_SIMULATED_RTT_MS = 20 in vitest.config.ts): bursts over four locations stay within the
// limit, revocation, suspension and a limit change reach every location before the admin call returns, an evicted
// location never lets the tenant overshoot, and the gateway admits at the client's location (x-cic-location).
import { createExecutionContext, evictDurableObject, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { locationName, type LocationHint } from '../../../durable-objects/admission-location/contract.ts'
import { SLICE_TTL_MS, type AdmitInput, type AdmitResult } from '../../../durable-objects/tenant-gate/contract.ts'
import type { LimitOverrides } from '../../../durable-objects/tenant-gate/plans.ts'
import worker from '../../src/index.ts'
import { setLocationShardsForTests } from '../../src/services/admission/location-shards.ts'
import { api, registerNode, seedTenant } from '../helpers/gateway.ts'

const FOUR: LocationHint[] = ['apac', 'enam', 'weur', 'oc']
const reservation = { promptTokens: 10, completionTokens: 40, isCompletionGuess: false }

async function tenant(limits: LimitOverrides) {
  const tenantId = `t-${crypto.randomUUID()}`
  const gate = env.TENANT_GATE.getByName(`tenant:${tenantId}`)
  await gate.configure({ tenantId, status: 'active', statusReason: null, plan: 'enterprise', limits, updatedAt: 1 })
  const location = (hint: LocationHint) => env.ADMISSION_LOCATION.getByName(locationName(tenantId, hint))
  /** One admission at a location; `at` is when its answer came back (the admission happened before). */
  const admitAt = async (hint: LocationHint, over: Partial<AdmitInput> = {}): Promise<AdmitResult & { at: number }> => {
    const [r] = await location(hint).admitMany({
      location: locationName(tenantId, hint),
      admits: [{ tenantId, keyId: 'k1', reservation, ...over }],
      settles: [],
    })
    if (!r) throw new Error('no result')
    return { ...r, at: Date.now() }
  }
  return { tenantId, gate, location, admitAt }
}

/** The most admissions in any rolling 60 s window, from their timestamps. */
function worstWindow(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b)
  let worst = 0
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[j] ?? 0) <= (sorted[i] ?? 0) - 60_000) j++
    worst = Math.max(worst, i - j + 1)
  }
  return worst
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('admission slices across four locations (20 ms simulated round trips)', () => {
  it('admits at most the rpm in every rolling window under a burst of 5x the limit, and most of it', async () => {
    const rpm = 120
    const t = await tenant({ rpm, tpm: 1_000_000, concurrency: 1_000 })
    const admitted: number[] = []
    let refused = 0
    // Five waves, each of the limit spread over the four locations: slices grow, move and run out between them.
    for (let wave = 0; wave < 5; wave++) {
      const results = await Promise.all(Array.from({ length: rpm }, (_, i) => t.admitAt(FOUR[i % 4] as LocationHint)))
      for (const r of results) {
        if (r.ok) admitted.push(r.at)
        else if (r.reason === 'rate_limited') refused++
        else throw new Error(`unexpected ${JSON.stringify(r)}`)
      }
      await sleep(50)
    }
    expect(worstWindow(admitted)).toBeLessThanOrEqual(rpm)
    expect(admitted.length + refused).toBe(5 * rpm)
    expect(admitted.length).toBeGreaterThanOrEqual(rpm * 0.9) // idle slices elsewhere refuse little
    const home = await t.gate.inspect()
    const held = home.slices.reduce((sum, s) => sum + (s.held.requests ?? 0), 0)
    expect(home.requestsInWindow + held).toBeLessThanOrEqual(rpm) // the home's sum: reported entries plus every slice
  })

  it('refuses a revoked key at every location once revokeKey returns, under load', async () => {
    const t = await tenant({ rpm: 10_000, tpm: 10_000_000, concurrency: 1_000 })
    for (const hint of FOUR) expect((await t.admitAt(hint)).ok).toBe(true) // each location holds a slice now
    const load = Promise.all(Array.from({ length: 200 }, (_, i) => t.admitAt(FOUR[i % 4] as LocationHint)))
    await t.gate.revokeKey('k1')
    const after = await Promise.all(FOUR.map((hint) => t.admitAt(hint)))
    expect(after.map((r) => (r.ok ? 'admitted' : r.reason))).toEqual(['key_revoked', 'key_revoked', 'key_revoked', 'key_revoked'])
    expect((await Promise.all(FOUR.map((hint) => t.admitAt(hint, { keyId: 'k2' })))).every((r) => r.ok)).toBe(true)
    await load
  })

  it('applies a lower limit and a suspension at every location once configure returns', async () => {
    const t = await tenant({ rpm: 1_000, tpm: 10_000_000, concurrency: 1_000 })
    const before = await Promise.all(Array.from({ length: 160 }, (_, i) => t.admitAt(FOUR[i % 4] as LocationHint)))
    expect(before.every((r) => r.ok)).toBe(true)
    await t.gate.configure({ tenantId: t.tenantId, status: 'active', statusReason: null, plan: 'enterprise', limits: { rpm: 200 }, updatedAt: 2 })
    const burst = await Promise.all(Array.from({ length: 400 }, (_, i) => t.admitAt(FOUR[i % 4] as LocationHint)))
    // 160 are still in the window: at most 40 more under the new limit, wherever they arrive.
    expect(burst.filter((r) => r.ok).length).toBeLessThanOrEqual(40)
    await t.gate.configure({ tenantId: t.tenantId, status: 'suspended', statusReason: 'unpaid', plan: 'enterprise', limits: { rpm: 200 }, updatedAt: 3 })
    const suspended = await Promise.all(FOUR.map((hint) => t.admitAt(hint, { keyId: 'k3' })))
    expect(suspended.map((r) => (r.ok ? 'admitted' : r.reason))).toEqual(['tenant_suspended', 'tenant_suspended', 'tenant_suspended', 'tenant_suspended'])
  })

  it('never overshoots when a location is evicted mid-burst, and holds its slice no longer than its lease', async () => {
    const rpm = 200
    const t = await tenant({ rpm, tpm: 10_000_000, concurrency: 40 })
    const ttl = { leaseTtlMs: 300 }
    const first = await Promise.all(Array.from({ length: 200 }, (_, i) => t.admitAt(FOUR[i % 4] as LocationHint, ttl)))
    await evictDurableObject(t.location('apac'))
    const second = await Promise.all(Array.from({ length: 600 }, (_, i) => t.admitAt(FOUR[i % 4] as LocationHint, ttl)))
    const admitted = [...first, ...second].filter((r) => r.ok)
    expect(worstWindow(admitted.map((r) => r.at))).toBeLessThanOrEqual(rpm)
    // The lost instance's slice: usable at most SLICE_TTL_MS after its last exchange, its pool held at most that plus
    // its longest lease; past that the home counts none of its concurrency (its windowed units stay for the window).
    const holdings = (await t.gate.inspect()).slices
    for (const s of holdings) {
      expect(s.useByMs).toBeLessThanOrEqual(SLICE_TTL_MS)
      expect(s.poolHeldForMs).toBeLessThanOrEqual(SLICE_TTL_MS + 600_000)
    }
    await expect
      .poll(async () => (await t.gate.inspect()).slices.filter((s) => s.location.endsWith(':apac')).reduce((n, s) => n + (s.held.concurrency ?? 0), 0), {
        timeout: SLICE_TTL_MS + 5_000,
        interval: 500,
      })
      .toBe(0)
  }, 30_000)
})

describe("an evicted location's concurrency pool", () => {
  it("is held at most its use-by plus 2 min (LOCATION_LEASE_MAX_MS), not plus the gateway's 10 min lease", async () => {
    const t = await tenant({ rpm: 1_000, tpm: 10_000_000, concurrency: 40 })
    // Leases as the gateway asks for them (10 min, renewed every 50 s): a location gives at most 2 min at a time.
    const running = await Promise.all(Array.from({ length: 8 }, () => t.admitAt('apac', { leaseTtlMs: 600_000 })))
    expect(running.every((r) => r.ok)).toBe(true)
    // What the home would keep counting if the location were lost now (it counts the same whether it is or not).
    const apac = (await t.gate.inspect()).slices.filter((s) => s.location.endsWith(':apac'))
    expect(apac.length).toBeGreaterThan(0)
    for (const s of apac) {
      expect(s.held.concurrency ?? 0).toBeGreaterThan(0) // still counted: its leases may run
      expect(s.poolHeldForMs).toBeLessThanOrEqual(SLICE_TTL_MS + 120_000) // was SLICE_TTL_MS + 600_000
    }
  })
})

describe('a home restart (deploy, eviction) mid-burst', () => {
  it('grants nothing twice: at most the rpm in every rolling window, before and after the restart', async () => {
    const rpm = 120
    const t = await tenant({ rpm, tpm: 1_000_000, concurrency: 1_000 })
    const admitted: number[] = []
    let refused = 0
    const wave = async () => {
      const results = await Promise.all(Array.from({ length: rpm }, (_, i) => t.admitAt(FOUR[i % 4] as LocationHint)))
      for (const r of results) {
        if (r.ok) admitted.push(r.at)
        else refused++
      }
    }
    await wave()
    await wave() // every location holds a slice now, and the ledger has their reports (the limit is used)
    const before = admitted.length
    // The home loses its memory while the third wave runs: exchanges in flight fail or reach the new instance.
    const third = wave()
    await sleep(30)
    // ctx.abort() resets the object as a crash or a deploy does: memory gone, storage kept, calls in flight fail.
    // (evictDurableObject waits for in-flight calls to drain, which a burst never lets happen.)
    await runInDurableObject(env.TENANT_GATE.getByName(`tenant:${t.tenantId}`), (_gate, state) => state.abort('restart')).catch(() => undefined)
    await third
    for (let i = 0; i < 3; i++) {
      await wave()
      await sleep(50)
    }
    expect(before).toBeGreaterThanOrEqual(rpm * 0.9) // the limit was (nearly) used before the restart
    expect(admitted.length + refused).toBe(6 * rpm)
    expect(worstWindow(admitted)).toBeLessThanOrEqual(rpm)
    const home = await env.TENANT_GATE.getByName(`tenant:${t.tenantId}`).inspect()
    expect(home.slices.length).toBeGreaterThan(0) // the restarted home knows the locations' slices
  }, 30_000)

  it('still counts the room a quiet location holds: the restarted home does not give it to the others', async () => {
    const rpm = 120
    const t = await tenant({ rpm, tpm: 1_000_000, concurrency: 1_000 })
    const admitted: number[] = []
    const burst = async (hints: LocationHint[], n: number) => {
      const results = await Promise.all(Array.from({ length: n }, (_, i) => t.admitAt(hints[i % hints.length] as LocationHint)))
      for (const r of results) if (r.ok) admitted.push(r.at)
    }
    // apac alone: it gets what its demand asks, and keeps room it has not used yet (and admissions not reported yet).
    for (let i = 0; i < 6; i++) {
      await burst(['apac'], 5)
      await sleep(300)
    }
    const apac = await t.location('apac').inspect()
    await runInDurableObject(env.TENANT_GATE.getByName(`tenant:${t.tenantId}`), (_gate, state) => state.abort('restart')).catch(() => undefined)
    // The other three locations take all they can from the restarted home, then apac uses its room.
    for (let i = 0; i < 3; i++) await burst(['enam', 'weur', 'oc'], rpm)
    await burst(['apac'], rpm)
    expect((apac?.room.requests ?? 0) + (apac?.unreported ?? 0)).toBeGreaterThan(0) // apac held a slice across the restart
    expect(worstWindow(admitted)).toBeLessThanOrEqual(rpm)
    expect(admitted.length).toBeGreaterThanOrEqual(rpm * 0.75) // exact, not closed: most of the limit is still used
  }, 30_000)
})

describe('the gateway admits at the client location', () => {
  beforeAll(async () => {
    await registerNode(inject('standins').healthy, ['cic-demo-llm'])
  })

  const chat = { model: 'cic-demo-llm', messages: [{ role: 'user', content: 'hello there world' }], max_tokens: 2 }
  const post = (key: string, location: string) => api(key, '/v1/chat/completions', { method: 'POST', json: chat, headers: { 'x-cic-location': location } })
  /** One chat completion at `location`, answered and its waitUntil work (the settle) done: a 200 or the test fails. */
  const completeAt = async (key: string, location: string) => {
    const ctx = createExecutionContext()
    const req = new Request('http://gateway.test/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-cic-location': location },
      body: JSON.stringify(chat),
    })
    const res = await worker.fetch(req, env, ctx)
    await res.text()
    await waitOnExecutionContext(ctx)
    expect(res.status).toBe(200)
  }

  it('admits N of 5N concurrent requests spread over four locations and answers the rest with 429', async () => {
    const { key } = await seedTenant({ rpm: 20 })
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => post(key, FOUR[i % 4] as string)))
    const ok = responses.filter((r) => r.status === 200)
    expect(ok.length).toBeLessThanOrEqual(20)
    // Within one instant burst some room can sit idle in a slice at a location whose requests are all answered (the
    // false-429 window, README): it goes back within IDLE_RELEASE_MS, so a later request gets it.
    expect(ok.length).toBeGreaterThanOrEqual(10)
    expect(responses.filter((r) => r.status === 429).length).toBe(100 - ok.length)
    const refused = responses.find((r) => r.status === 429)
    expect(await refused?.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } })
    await Promise.all(ok.map((r) => r.text()))
  })

  it('settles at the location that gave the lease: the slot is free for the next request', async () => {
    const { key, tenantId } = await seedTenant({ concurrency: 1, rpm: 1_000 })
    for (let i = 0; i < 3; i++) await completeAt(key, 'weur')
    const loc = await env.ADMISSION_LOCATION.getByName(locationName(tenantId, 'weur')).inspect()
    expect(loc?.inUse).toBe(0)
  })

  it('spreads a large tenant over the shards of its location: admitted and settled in the shard this isolate drew', async () => {
    setLocationShardsForTests(4, 0.6) // as staging and production (4), with this isolate's draw fixed
    try {
      const { key, tenantId } = await seedTenant({ rpm: 240_000, concurrency: 1 })
      // concurrency 1: each request finds the slot its predecessor's settle freed
      for (let i = 0; i < 3; i++) await completeAt(key, 'apac')
      // The first request showed the tenant's rpm (4 shards' worth); the next two went to shard floor(0.6 * 4) = 2.
      const first = await env.ADMISSION_LOCATION.getByName(locationName(tenantId, 'apac')).inspect()
      const drawn = await env.ADMISSION_LOCATION.getByName(locationName(tenantId, 'apac', 2)).inspect()
      const seen = (o: typeof first) => (o?.decidedHere ?? 0) + (o?.waitedOnHome ?? 0) // decided there, or asked home from there
      expect(seen(first)).toBe(1)
      expect(seen(drawn)).toBe(2)
      expect(drawn?.inUse).toBe(0)
      // The home sees the shard as one more location holding a slice.
      const home = await env.TENANT_GATE.getByName(`tenant:${tenantId}`).inspect()
      expect(home.slices.map((s: { location: string }) => s.location)).toContain(locationName(tenantId, 'apac', 2))
    } finally {
      setLocationShardsForTests(null)
    }
  })

  it('ignores an unknown location header (admission stays at home)', async () => {
    const { key, tenantId } = await seedTenant({ rpm: 5 })
    const res = await post(key, 'mars')
    expect(res.status).toBe(200)
    await res.text()
    expect((await env.TENANT_GATE.getByName(`tenant:${tenantId}`).inspect()).requestsInWindow).toBe(1)
  })
})
