// Console sessions: CSRF on every write, sign-out ends the session on the server, idle and absolute lifetimes,
// and a removed member's sessions are refused.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { Browser, createTenant, member, operator, uniqueEmail } from './console-browser.ts'

const HOUR_MS = 3_600_000
const sessionRows = (userId: string) => env.DB.prepare('SELECT id_hash FROM console_sessions WHERE user_id = ?').bind(userId).all()

describe('CSRF', () => {
  it('refuses a write without the token, with a wrong one, or from another origin; accepts the page’s own', async () => {
    const op = await operator()
    const tenantId = await createTenant(op)
    const path = `/dashboard/api/tenants/${tenantId}/keys`
    const refusals: { headers: Record<string, string> }[] = [
      { headers: { 'x-csrf-token': '' } },
      { headers: { 'x-csrf-token': 'A'.repeat(43) } },
      { headers: { origin: 'https://evil.example' } },
      { headers: { 'sec-fetch-site': 'cross-site' } },
    ]
    for (const { headers } of refusals) {
      const res = await op.fetch(path, { json: { name: 'csrf' }, headers })
      expect(res.status, JSON.stringify(headers)).toBe(403)
      expect(await res.json()).toMatchObject({ error: { type: 'permission_error', code: 'csrf_failed' } })
    }
    const keys = await op.json<{ keys: unknown[] }>(path)
    expect(keys.keys).toHaveLength(0) // nothing was created by the refused requests
    expect((await op.fetch(path, { json: { name: 'ok' } })).status).toBe(201)
  })

  it('checks logout too', async () => {
    const b = new Browser()
    await b.signIn(uniqueEmail('logout-csrf'))
    const res = await b.fetch('/dashboard/logout', { method: 'POST', headers: { 'x-csrf-token': 'nope' } })
    expect(res.status).toBe(403)
    expect((await b.fetch('/dashboard/api/me')).status).toBe(200)
  })
})

describe('sign-out and lifetimes', () => {
  it('sign-out deletes the session on the server: the old cookie is refused afterwards', async () => {
    const b = new Browser()
    const me = await b.signIn(uniqueEmail('signout'))
    const oldCookie = b.cookieHeader()
    const res = await b.fetch('/dashboard/logout', { method: 'POST' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
    expect(res.headers.getSetCookie().some((c) => c.startsWith('cic_session=;') || /cic_session=.*Max-Age=0/i.test(c))).toBe(true)
    expect((await sessionRows(me.user.id)).results).toHaveLength(0)
    // Replaying the old cookie (as a copy an attacker kept would) is refused.
    const replay = new Browser()
    for (const part of oldCookie.split('; ')) {
      const [k = '', v = ''] = part.split('=')
      replay.cookies.set(k, v)
    }
    expect((await replay.fetch('/dashboard/api/me')).status).toBe(401)
    const audit = await env.DB.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'console.sign_out' AND actor = ?")
      .bind(`user:${me.user.email}`)
      .first<{ n: number }>()
    expect(audit?.n).toBe(1)
  })

  it('ends a session unused for longer than the idle lifetime (12 h), and deletes it', async () => {
    const b = new Browser()
    const me = await b.signIn(uniqueEmail('idle'))
    await env.DB.prepare('UPDATE console_sessions SET last_seen_at = ? WHERE user_id = ?')
      .bind(Date.now() - 12 * HOUR_MS + 60_000, me.user.id)
      .run()
    expect((await b.fetch('/dashboard/api/me')).status).toBe(200) // a minute short of idle: still live, and touched
    const touched = await env.DB.prepare('SELECT last_seen_at FROM console_sessions WHERE user_id = ?').bind(me.user.id).first<{ last_seen_at: number }>()
    expect(Date.now() - (touched?.last_seen_at ?? 0)).toBeLessThan(HOUR_MS)
    await env.DB.prepare('UPDATE console_sessions SET last_seen_at = ? WHERE user_id = ?')
      .bind(Date.now() - 12 * HOUR_MS - 1, me.user.id)
      .run()
    expect((await b.fetch('/dashboard/api/me')).status).toBe(401)
    expect((await sessionRows(me.user.id)).results).toHaveLength(0)
  })

  it('ends a session older than the absolute lifetime (7 days) even if used all along', async () => {
    const b = new Browser()
    const me = await b.signIn(uniqueEmail('absolute'))
    await env.DB.prepare('UPDATE console_sessions SET created_at = ?, last_seen_at = ? WHERE user_id = ?')
      .bind(Date.now() - 7 * 24 * HOUR_MS - 1, Date.now(), me.user.id)
      .run()
    expect((await b.fetch('/dashboard/api/me')).status).toBe(401)
    expect((await sessionRows(me.user.id)).results).toHaveLength(0)
  })

  it("ends a removed member's sessions: their old cookie is refused, and signing in again shows no access", async () => {
    const op = await operator()
    const tenantId = await createTenant(op)
    const email = uniqueEmail('removed')
    const m = await member(op, tenantId, email, 'tenant_member')
    const me = await m.json<{ user: { id: string } }>('/dashboard/api/me')
    expect((await m.fetch(`/dashboard/api/tenants/${tenantId}`)).status).toBe(200)
    expect((await op.fetch(`/dashboard/api/tenants/${tenantId}/members/${me.user.id}`, { method: 'DELETE' })).status).toBe(200)
    expect((await m.fetch(`/dashboard/api/tenants/${tenantId}`)).status).toBe(401)
    expect((await m.fetch('/dashboard/api/me')).status).toBe(401)
    const again = await new Browser().signIn(email)
    expect(again.memberships).toEqual([])
    const audit = await env.DB.prepare("SELECT before FROM audit_log WHERE action = 'console.member.remove' AND actor = 'user:ops@cic.test' AND target = ?")
      .bind(tenantId)
      .first<{ before: string }>()
    expect(JSON.parse(audit?.before ?? '{}')).toMatchObject({ user_id: me.user.id, email })
  })
})
