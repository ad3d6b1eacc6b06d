import { env } from 'cloudflare:workers'
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import type { Reservation } from './admission-ledger.ts'
import { SCHEMA_VERSION } from './gate-storage.ts'
import type { LimitOverrides } from './plans.ts'
import type { AdmitResult } from './contract.ts'

const gateFor = (tenantId: string) => env.TENANT_GATE.getByName(`tenant:${tenantId}`)
const tokens = (promptTokens: number, completionTokens: number): Reservation => ({ promptTokens, completionTokens, isCompletionGuess: false })

/** A configured tenant object; limits default to none (the enterprise plan), so each test sets only what it tests. */
async function tenant(limits: LimitOverrides) {
  const tenantId = `t-${crypto.randomUUID()}`
  const gate = gateFor(tenantId)
  await gate.configure({ tenantId, status: 'active', statusReason: null, plan: 'enterprise', limits })
  const admit = (over: { keyId?: string; reservation?: Reservation | null; leaseTtlMs?: number; keyLimits?: LimitOverrides } = {}) =>
    gate.admit({ tenantId, keyId: 'k1', reservation: tokens(10, 90), ...over })
  return { tenantId, gate, admit }
}

const leaseOf = (r: AdmitResult): string => {
  if (!r.ok || !r.leaseId) throw new Error(`expected a lease, got ${JSON.stringify(r)}`)
  return r.leaseId
}

describe('TenantGate identity and status', () => {
  it('keeps revocations and suspension across eviction (they are in SQLite, not memory)', async () => {
    const gate = gateFor('t-evict')
    await gate.configure({ tenantId: 't-evict', status: 'suspended', statusReason: 'payment failed', limits: {} })
    await gate.revokeKey('k-revoked')
    await evictDurableObject(gate)
    const fresh = gateFor('t-evict')
    expect(await fresh.admit({ tenantId: 't-evict', keyId: 'k-revoked' })).toEqual({ ok: false, reason: 'key_revoked' })
    expect(await fresh.admit({ tenantId: 't-evict', keyId: 'k-live' })).toMatchObject({ ok: false, reason: 'tenant_suspended' })
  })

  it('bootstraps from D1 when its storage is empty, plan and limits included', async () => {
    await env.DB.batch([
      env.DB.prepare("INSERT INTO tenants (id, name, status, status_reason, plan, limits) VALUES ('t-d1', 'x', 'suspended', 'manual', 'free', '{\"rpm\":7}')"),
      env.DB.prepare("INSERT INTO api_keys (id, tenant_id, key_hash, prefix, revoked_at) VALUES ('k-old', 't-d1', 'h1', 'sk-cic-', 1)"),
    ])
    const gate = gateFor('t-d1')
    expect(await gate.admit({ tenantId: 't-d1', keyId: 'k-old' })).toEqual({ ok: false, reason: 'key_revoked' })
    expect(await gate.admit({ tenantId: 't-d1', keyId: 'k-new' })).toMatchObject({
      ok: false,
      reason: 'tenant_suspended',
      message: 'This account is suspended: manual.',
    })
    expect(await gate.inspect()).toMatchObject({ plan: 'free', limits: { rpm: 7, concurrency: 2 } })
  })

  it('refuses a tenant that exists nowhere', async () => {
    expect(await gateFor('t-ghost').admit({ tenantId: 't-ghost', keyId: 'k' })).toEqual({ ok: false, reason: 'tenant_unknown' })
  })
})

describe('TenantGate limits under concurrency', () => {
  it('admits exactly N of 5N concurrent requests with an rpm of N', async () => {
    const { admit } = await tenant({ rpm: 20 })
    const results = await Promise.all(Array.from({ length: 100 }, () => admit()))
    expect(results.filter((r) => r.ok)).toHaveLength(20)
    expect(results.find((r) => !r.ok)).toMatchObject({ reason: 'rate_limited', scope: 'requests', rate: { requests: { limit: 20, remaining: 0 } } })
  })

  it('never lets the sum of admitted reservations exceed the tpm', async () => {
    const { admit, gate } = await tenant({ tpm: 2050 })
    const sizes = Array.from({ length: 100 }, (_, i) => 50 + (i % 7) * 30)
    const results = await Promise.all(sizes.map((s) => admit({ reservation: tokens(s, 0) })))
    const admittedTokens = sizes.filter((_, i) => results[i]?.ok).reduce((a, b) => a + b, 0)
    expect(admittedTokens).toBeLessThanOrEqual(2050)
    expect((await gate.inspect()).tokensInWindow).toBe(admittedTokens)
    expect(admittedTokens).toBeGreaterThan(2050 - 230) // refused only when the smallest pending did not fit either
  })

  it('admits exactly N of 5N concurrent requests with a concurrency of N', async () => {
    const { admit, gate } = await tenant({ concurrency: 8 })
    const results = await Promise.all(Array.from({ length: 40 }, () => admit()))
    expect(results.filter((r) => r.ok)).toHaveLength(8)
    expect((await gate.inspect()).inFlight).toBe(8)
  })

  it("applies a key's own rpm from its limits", async () => {
    const { admit } = await tenant({ key_rpm: 5 })
    const capped = await Promise.all(Array.from({ length: 10 }, () => admit({ keyId: 'a', keyLimits: { rpm: 2 } })))
    const tenantDefault = await Promise.all(Array.from({ length: 10 }, () => admit({ keyId: 'b' })))
    expect([capped, tenantDefault].map((rs) => rs.filter((r) => r.ok).length)).toEqual([2, 5])
  })
})

describe('TenantGate leases', () => {
  it('gives a 4,000-token reservation that used 100 back at once', async () => {
    const { admit, gate } = await tenant({ tpm: 4000 })
    const lease = leaseOf(await admit({ reservation: tokens(1000, 3000) }))
    expect(await admit({ reservation: tokens(100, 0) })).toMatchObject({ ok: false, scope: 'tokens' })
    expect(await gate.settle(lease, 100)).toBe(true)
    expect(await gate.settle(lease, 100)).toBe(false) // exactly once
    expect(await admit({ reservation: tokens(3900, 0) })).toMatchObject({ ok: true, rate: { tokens: { limit: 4000, remaining: 0 } } })
  })

  it('releases the slot of a request whose Worker never settles when its in-memory lease expires', async () => {
    const { admit, gate } = await tenant({ concurrency: 1 })
    const lease = leaseOf(await admit({ leaseTtlMs: 50 }))
    expect(await admit()).toMatchObject({ ok: false, scope: 'concurrency' })
    await new Promise((resolve) => setTimeout(resolve, 80))
    expect((await gate.inspect()).inFlight).toBe(0)
    leaseOf(await admit())
    expect(await gate.settle(lease, 10)).toBe(true) // a late settle still corrects the tokens (still in the window)
  })

  it('releases the slot of a budgeted request whose Worker never settles when the lease expires (alarm)', async () => {
    const { admit, gate } = await tenant({ concurrency: 1, budget_tokens: 1_000_000 })
    const lease = leaseOf(await admit({ leaseTtlMs: 5_000 }))
    expect(await admit()).toMatchObject({ ok: false, scope: 'concurrency' })
    expect(await runDurableObjectAlarm(gate)).toBe(true) // fires as if its time (the lease's expiry) had come
    expect((await gate.inspect()).inFlight).toBe(0)
    leaseOf(await admit())
    expect(await gate.settle(lease, 10)).toBe(true) // a late settle still corrects the tokens
  })

  it("keeps a renewed budgeted lease's slot when the alarm of its first expiry fires, and across eviction", async () => {
    const { admit, gate } = await tenant({ concurrency: 1, budget_tokens: 1_000_000 })
    const lease = leaseOf(await admit({ leaseTtlMs: 5_000 }))
    expect(await gate.renew(lease, 60_000)).toBe(true)
    await evictDurableObject(gate)
    expect(await runDurableObjectAlarm(gate)).toBe(true) // as of the first expiry: the renewed lease outlives it
    expect((await gate.inspect()).inFlight).toBe(1)
    expect(await admit()).toMatchObject({ ok: false, scope: 'concurrency' })
    expect(await gate.settle(lease, 10)).toBe(true)
    expect(await gate.renew(lease, 60_000)).toBe(false) // settled: nothing to renew
  })

  it('writes nothing to storage for a tenant without a budget, and forgets its windows on eviction', async () => {
    const { admit, gate } = await tenant({ rpm: 2, concurrency: 5 })
    const lease = leaseOf(await admit())
    await gate.settle(leaseOf(await admit()), 50)
    expect(await admit()).toMatchObject({ ok: false, scope: 'requests' })
    expect(await gate.renew(lease, 60_000)).toBe(true)
    const rows = await runInDurableObject(gate, (_, state) => ({
      admissions: state.storage.sql.exec('SELECT COUNT(*) AS n FROM admissions').one().n,
      budgets: state.storage.sql.exec('SELECT COUNT(*) AS n FROM budgets').one().n,
      alarm: state.storage.sql.exec("SELECT COUNT(*) AS n FROM meta WHERE name = 'alarm_at'").one().n,
    }))
    expect(rows).toEqual({ admissions: 0, budgets: 0, alarm: 0 })
    expect(await runDurableObjectAlarm(gate)).toBe(false) // nothing to sweep: no alarm was set
    // While a lease lives in memory only, a pending timer keeps the runtime from hibernating the object.
    expect(await runInDurableObject(gate, (instance) => instance.isKeptResident())).toBe(true)
    await gate.settle(lease, 10)
    expect(await runInDurableObject(gate, (instance) => instance.isKeptResident())).toBe(false)
    await evictDurableObject(gate)
    expect(await gate.inspect()).toMatchObject({ requestsInWindow: 0, inFlight: 0 }) // pure rate windows: memory only
    leaseOf(await admit())
  })

  it('keeps windows, leases and budgets across eviction when the tenant has a budget', async () => {
    const { admit, gate } = await tenant({ rpm: 3, concurrency: 2, budget_tokens: 10_000 })
    const first = leaseOf(await admit({ reservation: tokens(100, 400) }))
    leaseOf(await admit({ reservation: tokens(100, 400) }))
    await gate.settle(first, 300)
    await evictDurableObject(gate)
    const before = await gate.inspect()
    expect(before).toMatchObject({ requestsInWindow: 2, tokensInWindow: 800, inFlight: 1, budget: { committed: 300, reserved: 500 } })
    leaseOf(await admit())
    expect(await admit()).toMatchObject({ ok: false, scope: 'requests' })
  })
})

describe('TenantGate money budget (budget_micro_usd)', () => {
  const price = { inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 4_000_000 } // $1/M in, $4/M out
  const priced = (prompt: number, completion: number, isCompletionGuess = false): Reservation => ({
    promptTokens: prompt,
    completionTokens: completion,
    isCompletionGuess,
    price,
  })

  it('holds the worst-case cost, commits the settled cost and keeps both across eviction', async () => {
    const { admit, gate } = await tenant({ budget_micro_usd: 100_000 })
    const first = leaseOf(await admit({ reservation: priced(1000, 5000) })) // 1,000 + 20,000 µ$
    leaseOf(await admit({ reservation: priced(1000, 5000) }))
    expect(await gate.settle(first, 1200, 1_800)).toBe(true)
    await evictDurableObject(gate)
    expect(await gate.inspect()).toMatchObject({ budget: { committedMicroUsd: 1_800, reservedMicroUsd: 21_000 } })
  })

  it('admits a concurrent burst 5x larger than the budget and never holds or commits past it', async () => {
    const { admit, gate } = await tenant({ budget_micro_usd: 50_000 })
    // Each request may cost 1,000 + 4,000 µ$ = 5,000 µ$: the budget pays for 10, the burst asks for 50.
    const results = await Promise.all(Array.from({ length: 50 }, () => admit({ reservation: priced(1000, 1000) })))
    const admitted = results.filter((r) => r.ok)
    expect(admitted).toHaveLength(10)
    expect(results.filter((r) => !r.ok && r.reason === 'rate_limited' && r.scope === 'budget_in_flight')).toHaveLength(40)
    await Promise.all(admitted.map((r) => gate.settle(leaseOf(r), 2000, 5_000)))
    expect(await gate.inspect()).toMatchObject({ budget: { committedMicroUsd: 50_000, reservedMicroUsd: 0 } })
    expect(await admit({ reservation: priced(1, 0) })).toMatchObject({ ok: false, reason: 'budget_exhausted', unit: 'micro_usd' })
  })
})

describe('TenantGate storage schema', () => {
  it('upgrades a version-1 object in place, keeping its tenant and revocations', async () => {
    const gate = gateFor('t-v1')
    await runInDurableObject(gate, (_instance, state) => {
      const sql = state.storage.sql
      sql.exec(
        'DROP TABLE tenant; DROP TABLE admissions; DROP TABLE budgets; DROP TABLE meta; DROP TABLE slice_accounts; DROP TABLE slice_recorded; DELETE FROM schema_version',
      )
      sql.exec(`CREATE TABLE tenant (id INTEGER PRIMARY KEY CHECK (id = 1), tenant_id TEXT NOT NULL, status TEXT NOT NULL, status_reason TEXT, limits TEXT NOT NULL);
        INSERT INTO tenant VALUES (1, 't-v1', 'active', NULL, '{"rpm":1}'); INSERT INTO revoked_keys VALUES ('k-gone', 1);
        INSERT INTO schema_version (version) VALUES (1)`)
    })
    await evictDurableObject(gate)
    expect(await gate.admit({ tenantId: 't-v1', keyId: 'k-gone' })).toEqual({ ok: false, reason: 'key_revoked' })
    expect(await gate.admit({ tenantId: 't-v1', keyId: 'k' })).toMatchObject({ ok: true })
    expect(await gate.admit({ tenantId: 't-v1', keyId: 'k' })).toMatchObject({ ok: false, scope: 'requests' })
    const version = await runInDurableObject(
      gate,
      (_i, state) => state.storage.sql.exec<{ version: number }>('SELECT version FROM schema_version').one().version,
    )
    expect(version).toBe(SCHEMA_VERSION)
  })

  it('upgrades a version-4 object (before slices) without losing its month: committed and held budget still count', async () => {
    const { admit, gate } = await tenant({ budget_tokens: 1_000, budget_micro_usd: 50_000 })
    const running = await admit({ reservation: tokens(10, 90) }) // holds 100 tokens while it runs
    expect(running).toMatchObject({ ok: true })
    const month = (await gate.inspect()).budget.period
    await runInDurableObject(gate, (_instance, state) => {
      const sql = state.storage.sql
      // What a deployed version-4 object has: no slice tables, and a month with 800 tokens and 45,000 µ$ committed.
      sql.exec('DROP TABLE slice_accounts; DROP TABLE slice_recorded; UPDATE schema_version SET version = 4')
      sql.exec('UPDATE budgets SET committed = 800, committed_micro_usd = 45000 WHERE period = ?', month)
    })
    await evictDurableObject(gate)
    expect(await gate.inspect()).toMatchObject({ budget: { period: month, committed: 800, reserved: 100, committedMicroUsd: 45_000 } })
    // 1,000 − 800 committed − 100 held: a request holding 101 tokens does not fit, one holding 100 does.
    expect(await admit({ reservation: tokens(11, 90) })).toMatchObject({ ok: false })
    expect(await admit({ reservation: tokens(10, 90) })).toMatchObject({ ok: true })
    const version = await runInDurableObject(
      gate,
      (_i, state) => state.storage.sql.exec<{ version: number }>('SELECT version FROM schema_version').one().version,
    )
    expect(version).toBe(SCHEMA_VERSION)
  })
})
