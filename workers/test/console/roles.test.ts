// Console authorization, checked on the server for every route: invites accepted only by the invited email, the
// roles matrix (member, admin, operator), 403 on every tenant route for a user of another tenant, operator-only
// routes, and audit rows naming the acting user's email.
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { type Browser, createTenant, member, operator, uniqueEmail, Browser as B } from './console-browser.ts'

type Key = { id: string; created_by: string | null; can_revoke: boolean; revoked_at: number | null }

let op: Browser
let tenantA: string
let tenantB: string
let adminA: Browser
let memberA: Browser
let adminB: Browser

beforeAll(async () => {
  op = await operator()
  tenantA = await createTenant(op, 'tenant-a')
  tenantB = await createTenant(op, 'tenant-b')
  adminA = await member(op, tenantA, uniqueEmail('admin-a'), 'tenant_admin')
  memberA = await member(adminA, tenantA, uniqueEmail('member-a'), 'tenant_member')
  adminB = await member(op, tenantB, uniqueEmail('admin-b'), 'tenant_admin')
})

/** Every tenant route of the API, with a body where it takes one (ids that exist in `tenantId` when given). */
function tenantRoutes(tenantId: string, ids: { keyId: string; userId: string; inviteId: string }) {
  const t = `/dashboard/api/tenants/${tenantId}`
  return [
    { method: 'GET', path: t },
    { method: 'GET', path: `${t}/usage` },
    { method: 'GET', path: `${t}/usage.csv` },
    { method: 'GET', path: `${t}/keys` },
    { method: 'POST', path: `${t}/keys`, json: { name: 'x' } },
    { method: 'DELETE', path: `${t}/keys/${ids.keyId}` },
    { method: 'GET', path: `${t}/members` },
    { method: 'POST', path: `${t}/invites`, json: { email: 'x@example.test', role: 'tenant_admin' } },
    { method: 'DELETE', path: `${t}/invites/${ids.inviteId}` },
    { method: 'DELETE', path: `${t}/members/${ids.userId}` },
    { method: 'POST', path: `${t}/billing/checkout`, json: { plan: 'pro' } },
    { method: 'POST', path: `${t}/billing/portal` },
  ]
}

describe('invites', () => {
  it('is accepted only by the invited email, once', async () => {
    const invited = uniqueEmail('invited')
    const invite = await adminA.json<{ id: string; invite_url: string; email: string; role: string }>(`/dashboard/api/tenants/${tenantA}/invites`, {
      method: 'POST',
      json: { email: invited.toUpperCase(), role: 'tenant_member' },
    })
    expect(invite).toMatchObject({ email: invited, role: 'tenant_member' })
    const path = new URL(invite.invite_url).pathname
    // Signed out: to sign-in, coming back to the invite.
    const signedOut = await new B().fetch(path)
    expect(signedOut.status).toBe(302)
    expect(signedOut.headers.get('location')).toBe(`/dashboard/login?return_to=${encodeURIComponent(path)}`)
    // Someone else, signed in: refused, and nothing is granted.
    const other = new B()
    await other.signIn(uniqueEmail('other'))
    const refused = await other.fetch(path)
    expect(refused.status).toBe(403)
    expect(await refused.json()).toMatchObject({ error: { code: 'invite_email_mismatch' } })
    expect((await other.json<{ memberships: unknown[] }>('/dashboard/api/me')).memberships).toEqual([])
    // The invited email: accepted, with the invite's role.
    const right = new B()
    await right.signIn(invited)
    const accepted = await right.fetch(path)
    expect(accepted.status).toBe(302)
    expect(accepted.headers.get('location')).toBe(`/dashboard/tenants/${tenantA}`)
    expect((await right.json<{ memberships: unknown[] }>('/dashboard/api/me')).memberships).toEqual([
      { tenant_id: tenantA, tenant_name: 'tenant-a', role: 'tenant_member' },
    ])
    // Used up.
    const again = await other.fetch(path)
    expect(again.status).toBe(404)
    // The pending list no longer shows it; the token is stored hashed only.
    const members = await adminA.json<{ invites: { id: string }[]; members: { email: string }[] }>(`/dashboard/api/tenants/${tenantA}/members`)
    expect(members.invites.map((i) => i.id)).not.toContain(invite.id)
    expect(members.members.map((m) => m.email)).toContain(invited)
    const row = await env.DB.prepare('SELECT token_hash FROM console_invites WHERE id = ?').bind(invite.id).first<{ token_hash: string }>()
    expect(row?.token_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(invite.invite_url).not.toContain(row?.token_hash ?? '-')
  })

  it('a deleted or expired invite cannot be accepted', async () => {
    const email = uniqueEmail('late')
    const b = new B()
    await b.signIn(email)
    const deleted = await adminA.json<{ id: string; invite_url: string }>(`/dashboard/api/tenants/${tenantA}/invites`, {
      method: 'POST',
      json: { email, role: 'tenant_admin' },
    })
    expect((await adminA.fetch(`/dashboard/api/tenants/${tenantA}/invites/${deleted.id}`, { method: 'DELETE' })).status).toBe(200)
    expect((await b.fetch(new URL(deleted.invite_url).pathname)).status).toBe(404)
    const expired = await adminA.json<{ id: string; invite_url: string }>(`/dashboard/api/tenants/${tenantA}/invites`, {
      method: 'POST',
      json: { email, role: 'tenant_admin' },
    })
    await env.DB.prepare('UPDATE console_invites SET expires_at = ? WHERE id = ?')
      .bind(Date.now() - 1, expired.id)
      .run()
    expect((await b.fetch(new URL(expired.invite_url).pathname)).status).toBe(404)
    expect((await b.json<{ memberships: unknown[] }>('/dashboard/api/me')).memberships).toEqual([])
  })
})

describe('roles', () => {
  it('a member reads the tenant and creates keys; revokes only their own; cannot invite, remove or bill', async () => {
    const t = `/dashboard/api/tenants/${tenantA}`
    const detail = await memberA.json<{ role: string; limits: Record<string, number>; current: Record<string, number> }>(t)
    expect(detail.role).toBe('tenant_member')
    expect(detail.limits).toEqual({ rpm: 3000, tpm: 2_000_000, concurrency: 128, key_rpm: 0, budget_tokens: 0 })
    expect(detail.current).toEqual({ requests_last_minute: 0, tokens_last_minute: 0, in_flight: 0, budget_used: 0 })
    const own = await memberA.fetch(`${t}/keys`, { json: { name: 'mine' } })
    expect(own.status).toBe(201)
    const ownKey = (await own.json()) as { id: string; key: string; prefix: string }
    expect(ownKey.key).toMatch(/^sk-cic-/)
    const adminKey = await adminA.json<{ id: string }>(`${t}/keys`, { method: 'POST', json: { name: 'admins' } })
    const listed = await memberA.json<{ keys: (Key & { key?: string })[] }>(`${t}/keys`)
    expect(listed.keys.find((k) => k.id === ownKey.id)).toMatchObject({ can_revoke: true })
    expect(listed.keys.find((k) => k.id === adminKey.id)).toMatchObject({ can_revoke: false })
    expect(listed.keys.every((k) => k.key === undefined)).toBe(true) // prefixes only
    const other = await memberA.fetch(`${t}/keys/${adminKey.id}`, { method: 'DELETE' })
    expect(other.status).toBe(403)
    expect((await memberA.fetch(`${t}/keys/${ownKey.id}`, { method: 'DELETE' })).status).toBe(200)
    for (const route of [
      { method: 'POST', path: `${t}/invites`, json: { email: 'y@example.test', role: 'tenant_member' } },
      { method: 'POST', path: `${t}/billing/checkout`, json: { plan: 'pro' } },
      { method: 'POST', path: `${t}/billing/portal` },
      { method: 'POST', path: '/dashboard/api/tenants', json: { name: 'nope' } },
      { method: 'GET', path: '/dashboard/api/nodes' },
    ]) {
      const res = await memberA.fetch(route.path, route)
      expect(res.status, `${route.method} ${route.path}`).toBe(403)
    }
    const me = await adminA.json<{ user: { id: string } }>('/dashboard/api/me')
    expect((await memberA.fetch(`${t}/members/${me.user.id}`, { method: 'DELETE' })).status).toBe(403)
  })

  it('a tenant admin revokes any key of the tenant, and the revoked key is refused on /v1 at once', async () => {
    const t = `/dashboard/api/tenants/${tenantA}`
    const created = await memberA.json<{ id: string; key: string }>(`${t}/keys`, { method: 'POST', json: { name: 'to-revoke' } })
    const v1 = () => fetchV1(created.key)
    expect((await v1()).status).toBe(200)
    expect(await adminA.json(`${t}/keys/${created.id}`, { method: 'DELETE' })).toEqual({ id: created.id, revoked: true })
    expect((await v1()).status).toBe(401)
  })

  it('the operator sees every tenant; others see only theirs', async () => {
    const all = await op.json<{ tenants: { id: string; role: string }[] }>('/dashboard/api/tenants')
    expect(all.tenants.map((x) => x.id)).toEqual(expect.arrayContaining([tenantA, tenantB]))
    expect(all.tenants.every((x) => x.role === 'operator')).toBe(true)
    const mine = await adminB.json<{ tenants: { id: string; role: string }[] }>('/dashboard/api/tenants')
    expect(mine.tenants).toEqual([{ id: tenantB, name: 'tenant-b', plan: 'default', status: 'active', role: 'tenant_admin' }])
    expect((await op.fetch('/dashboard/api/tenants/ten_doesnotexist')).status).toBe(404)
  })

  it("tenant A's admin gets 403 on every route of tenant B (and of a tenant that does not exist), and changes nothing", async () => {
    const bKey = await adminB.json<{ id: string }>(`/dashboard/api/tenants/${tenantB}/keys`, { method: 'POST', json: { name: 'b-key' } })
    const bInvite = await adminB.json<{ id: string }>(`/dashboard/api/tenants/${tenantB}/invites`, {
      method: 'POST',
      json: { email: uniqueEmail('b-invite'), role: 'tenant_member' },
    })
    const bAdmin = await adminB.json<{ user: { id: string } }>('/dashboard/api/me')
    const ids = { keyId: bKey.id, userId: bAdmin.user.id, inviteId: bInvite.id }
    for (const tenantId of [tenantB, 'ten_doesnotexist', '..%2Fadmin']) {
      for (const route of tenantRoutes(tenantId, ids)) {
        const res = await adminA.fetch(route.path, route)
        expect(res.status, `${route.method} ${route.path}`).toBe(403)
        expect(await res.json()).toMatchObject({ error: { type: 'permission_error' } })
      }
    }
    // A's admin naming B's key under A's own tenant: not found there, and not revoked.
    expect((await adminA.fetch(`/dashboard/api/tenants/${tenantA}/keys/${bKey.id}`, { method: 'DELETE' })).status).toBe(404)
    const bKeys = await adminB.json<{ keys: Key[] }>(`/dashboard/api/tenants/${tenantB}/keys`)
    expect(bKeys.keys.find((k) => k.id === bKey.id)?.revoked_at).toBeNull()
    const bMembers = await adminB.json<{ members: { user_id: string }[]; invites: { id: string }[] }>(`/dashboard/api/tenants/${tenantB}/members`)
    expect(bMembers.members.map((m) => m.user_id)).toContain(bAdmin.user.id)
    expect(bMembers.invites.map((i) => i.id)).toContain(bInvite.id)
  })

  it('operator-only routes refuse tenant admins and members', async () => {
    const routes = [
      { method: 'GET', path: '/dashboard/api/overview' },
      { method: 'GET', path: '/dashboard/api/nodes' },
      { method: 'POST', path: '/dashboard/api/nodes/launch', json: {} },
      { method: 'POST', path: '/dashboard/api/nodes/node_x/drain' },
      { method: 'POST', path: '/dashboard/api/nodes/node_x/resume' },
      { method: 'POST', path: '/dashboard/api/nodes/some-cluster/terminate' },
      { method: 'POST', path: '/dashboard/api/nodes/some-cluster/relaunch' },
      { method: 'GET', path: '/dashboard/api/audit' },
      { method: 'GET', path: '/dashboard/api/dead-letters?kind=usage' },
      { method: 'POST', path: '/dashboard/api/dead-letters/replay', json: { kind: 'usage' } },
      { method: 'GET', path: '/dashboard/api/meter-pushes' },
      { method: 'POST', path: '/dashboard/api/tenants', json: { name: 'x' } },
      { method: 'GET', path: '/dashboard/api/fleets' },
      { method: 'PUT', path: '/dashboard/api/fleets/Org%2Fm', json: {} },
      { method: 'DELETE', path: '/dashboard/api/fleets/Org%2Fm' },
      { method: 'GET', path: '/dashboard/api/prices' },
      { method: 'PUT', path: '/dashboard/api/prices/Org%2Fm', json: {} },
    ]
    for (const who of [adminA, memberA]) {
      for (const route of routes) {
        const res = await who.fetch(route.path, route)
        expect(res.status, `${route.method} ${route.path}`).toBe(403)
      }
    }
    for (const route of routes.filter((r) => r.method === 'GET')) {
      expect((await op.fetch(route.path)).status, route.path).toBe(200)
    }
  })

  it('writes audit rows whose actor is the user’s email, through the admin services', async () => {
    const t = `/dashboard/api/tenants/${tenantA}`
    const key = await memberA.json<{ id: string }>(`${t}/keys`, { method: 'POST', json: { name: 'audited' } })
    await adminA.json(`${t}/keys/${key.id}`, { method: 'DELETE' })
    const memberEmail = (await memberA.json<{ user: { email: string } }>('/dashboard/api/me')).user.email
    const adminEmail = (await adminA.json<{ user: { email: string } }>('/dashboard/api/me')).user.email
    const rows = await env.DB.prepare("SELECT actor, action FROM audit_log WHERE target = ? AND action LIKE 'key.%' ORDER BY id")
      .bind(key.id)
      .all<{ actor: string; action: string }>()
    expect(rows.results).toEqual([
      { actor: `user:${memberEmail}`, action: 'key.create' },
      { actor: `user:${adminEmail}`, action: 'key.revoke' },
    ])
    const tenantRow = await env.DB.prepare("SELECT actor FROM audit_log WHERE action = 'tenant.create' AND target = ?").bind(tenantA).first<{ actor: string }>()
    expect(tenantRow?.actor).toBe('user:ops@cic.test')
    // The operator's audit view filters by that actor.
    const page = await op.json<{ data: { action: string }[] }>(`/dashboard/api/audit?actor=${encodeURIComponent(`user:${adminEmail}`)}`)
    expect(page.data.map((r) => r.action)).toContain('key.revoke')
  })
})

/** A /v1 call with an API key, straight to the Worker (no node is needed for the model list). */
async function fetchV1(key: string): Promise<Response> {
  const { workerFetch } = await import('./console-browser.ts')
  return workerFetch(new Request('http://console.test/v1/models', { headers: { authorization: `Bearer ${key}` } }))
}
