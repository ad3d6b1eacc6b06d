// Wire-contract checks the audit found untested: keys are stored as hash + prefix only and never listed with
// their secret; a client x-request-id that is not sane is replaced by ours; /v1/models lists only models a
// ready node serves.
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import { admin, api, call, registerNode, seedTenant, uniqueModel } from '../helpers/gateway.ts'

const standins = inject('standins')
const OUR_ID = /^req_[0-9a-f]{32}$/

describe('API keys at rest', () => {
  it('stores only the hash and prefix of a key (no secret in any column), and GET .../keys returns no secret', async () => {
    const { tenantId, key, keyId } = await seedTenant()
    const row = await env.DB.prepare('SELECT * FROM api_keys WHERE id = ?').bind(keyId).first<Record<string, unknown>>()
    expect(row).toMatchObject({ id: keyId, tenant_id: tenantId, key_hash: expect.stringMatching(/^[0-9a-f]{64}$/), prefix: expect.any(String) })
    expect(key.startsWith(row?.prefix as string)).toBe(true)
    expect((row!.prefix as string).length).toBeLessThan(key.length / 2)
    for (const value of Object.values(row ?? {})) expect(String(value)).not.toContain(key.slice((row!.prefix as string).length))
    const listed = await admin(`/admin/tenants/${tenantId}/keys`)
    expect(listed.status).toBe(200)
    const text = await listed.text()
    expect(text).not.toContain(key)
    expect(text).not.toContain(row?.key_hash as string)
    expect(JSON.parse(text)).toMatchObject({ data: [{ id: keyId, prefix: row?.prefix }] })
    expect(JSON.parse(text).data[0]).not.toHaveProperty('key')
  })
})

describe('x-request-id', () => {
  it('replaces a client id that is not sane (spaces, 300 characters) with ours', async () => {
    for (const bad of ['has spaces in it', 'x'.repeat(300), 'short']) {
      const res = await call('/health', { headers: { 'x-request-id': bad } })
      expect(res.status).toBe(200)
      const echoed = res.headers.get('x-request-id')
      expect(echoed).toMatch(OUR_ID)
      expect(echoed).not.toBe(bad)
    }
  })

  it('echoes a sane client id (and puts ours after it in the usage ledger key)', async () => {
    const res = await call('/health', { headers: { 'x-request-id': 'client-id-0001' } })
    expect(res.headers.get('x-request-id')).toBe('client-id-0001')
  })
})

describe('GET /v1/models', () => {
  it('leaves out models whose only node is not ready (warming, draining)', async () => {
    const ready = uniqueModel('pool-ready')
    const warming = uniqueModel('pool-warming')
    const draining = uniqueModel('pool-draining')
    expect((await registerNode(standins.healthy, [ready])).status).toBe('ready')
    expect((await registerNode('http://127.0.0.1:1', [warming])).status).toBe('warming') // its health check failed
    const drained = await registerNode(standins.slow, [draining])
    expect((await admin(`/admin/nodes/${drained.id}/drain`, { method: 'POST' })).status).toBe(200)
    const { key } = await seedTenant()
    const res = await api(key, '/v1/models')
    expect(res.status).toBe(200)
    const ids = ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id)
    expect(ids).toContain(ready)
    expect(ids).not.toContain(warming)
    expect(ids).not.toContain(draining)
  })
})
