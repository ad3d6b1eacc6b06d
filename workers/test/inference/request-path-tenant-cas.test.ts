// An admin PATCH racing a billing webhook: the update is a compare-and-swap on updated_at (re-applied to the
// row as it is now, 409 if it keeps changing), and the admission object ignores configurations older than the
// one it has, so a suspension written meanwhile is never undone by a stale read.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createDb } from '../../src/db/client.ts'
import { ApiError } from '../../src/errors.ts'
import { getTenant, syncGate } from '../../src/services/tenants/tenant-record.ts'
import { updateTenant } from '../../src/services/tenants/tenants.ts'
import { seedTenant } from '../helpers/gateway.ts'

const by = { actor: 'admin', requestId: 'req-cas-test' }
const gateOf = (tenantId: string) => env.TENANT_GATE.getByName(`tenant:${tenantId}`)

/** What the billing webhook does: D1 first (its own compare-and-swap), then the object. */
async function suspendAsWebhook(tenantId: string, updatedAt: number) {
  await env.DB.prepare("UPDATE tenants SET status = 'suspended', status_reason = 'payment failed', updated_at = ? WHERE id = ?").bind(updatedAt, tenantId).run()
  const row = await getTenant(createDb(env.DB), tenantId)
  if (row) await syncGate(env, row)
}

describe('admin PATCH vs a concurrent webhook', () => {
  it("keeps a suspension written after the admin read the tenant, and still applies the admin's change", async () => {
    const { tenantId } = await seedTenant()
    const db = createDb(env.DB)
    const stale = await getTenant(db, tenantId)
    if (!stale) throw new Error('seeded tenant missing')
    await suspendAsWebhook(tenantId, Date.now())
    const after = await updateTenant(env, db, stale, { limits: { rpm: 7 } }, by)
    expect(after).toMatchObject({ status: 'suspended', statusReason: 'payment failed', limits: { rpm: 7 } })
    expect(await getTenant(db, tenantId)).toMatchObject({ status: 'suspended', limits: { rpm: 7 } })
    expect(await gateOf(tenantId).inspect()).toMatchObject({ status: 'suspended', limits: { rpm: 7 } })
  })

  it('answers 409 when the tenant keeps changing, leaving the object as D1 says', async () => {
    const { tenantId } = await seedTenant()
    const db = createDb(env.DB)
    const stale = await getTenant(db, tenantId)
    if (!stale) throw new Error('seeded tenant missing')
    let stamp = Date.now() + 60_000 // each concurrent write lands just before ours is committed
    const racing = new Proxy(db, {
      get(target, name, receiver) {
        if (name !== 'batch') return Reflect.get(target, name, receiver) as unknown
        return async (statements: Parameters<typeof db.batch>[0]) => {
          await suspendAsWebhook(tenantId, (stamp += 1_000))
          return target.batch(statements)
        }
      },
    })
    const err = await updateTenant(env, racing, stale, { status: 'active' }, by).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err).toMatchObject({ kind: 'conflict', status: 409 })
    expect(await getTenant(db, tenantId)).toMatchObject({ status: 'suspended' })
    expect(await gateOf(tenantId).inspect()).toMatchObject({ status: 'suspended' })
  })
})

describe('TenantGate.configure ordering', () => {
  it('ignores a configuration older than the one in force', async () => {
    const tenantId = `t-${crypto.randomUUID()}`
    const gate = gateOf(tenantId)
    expect(await gate.configure({ tenantId, status: 'suspended', statusReason: 'payment failed', limits: {}, updatedAt: 2_000 })).toBe(true)
    expect(await gate.configure({ tenantId, status: 'active', statusReason: null, limits: {}, updatedAt: 1_000 })).toBe(false)
    expect(await gate.inspect()).toMatchObject({ status: 'suspended' })
    expect(await gate.configure({ tenantId, status: 'active', statusReason: null, limits: {}, updatedAt: 2_000 })).toBe(true) // same stamp: a redelivery, applied
    expect(await gate.inspect()).toMatchObject({ status: 'active' })
  })
})
