// Console users (by the issuer's `sub`), their tenant memberships and invites. Every change is audited in the
// same D1 batch, with the acting user's email as the actor.
import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { consoleInvites, consoleMemberships, consoleUsers, tenants, type ConsoleInviteRow, type ConsoleUserRow } from '../../db/schema.ts'
import type { TenantRole } from '../../schemas/console.ts'
import { ApiError } from '../../errors.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import { newId, type Actor } from '../tenants/tenants.ts'
import { randomToken, sha256Hex } from './secure-token.ts'
import { deleteUserSessions } from './sessions.ts'
import type { VerifiedIdentity } from './oidc.ts'

/** An invite link is good for this long. */
export const INVITE_TTL_MS = 7 * 86_400_000

/** The actor of an audit row written for a console user. */
export const userActor = (user: Pick<ConsoleUserRow, 'email'>, requestId: string): Actor => ({ actor: `user:${user.email}`, requestId })

/** Creates or refreshes the user of a verified sign-in (keyed by sub: an email change follows the account), audited. */
export async function signInUser(db: Db, identity: VerifiedIdentity, requestId: string, now = Date.now()): Promise<ConsoleUserRow> {
  const existing = await db.select().from(consoleUsers).where(eq(consoleUsers.sub, identity.sub)).get()
  const user: ConsoleUserRow = existing
    ? { ...existing, email: identity.email, name: identity.name ?? existing.name, lastSignInAt: now }
    : { id: newId('usr'), sub: identity.sub, email: identity.email, name: identity.name, createdAt: now, lastSignInAt: now }
  const write = existing
    ? db.update(consoleUsers).set({ email: user.email, name: user.name, lastSignInAt: now }).where(eq(consoleUsers.id, user.id))
    : db.insert(consoleUsers).values(user)
  await db.batch([
    write,
    auditStatement(db, {
      ...userActor(user, requestId),
      action: 'console.sign_in',
      target: user.id,
      after: { email: user.email, sub: user.sub, new_user: !existing },
    }),
  ])
  return user
}

export type Membership = { tenantId: string; tenantName: string; role: TenantRole }

export async function membershipsOf(db: Db, userId: string): Promise<Membership[]> {
  return db
    .select({ tenantId: consoleMemberships.tenantId, tenantName: tenants.name, role: consoleMemberships.role })
    .from(consoleMemberships)
    .innerJoin(tenants, eq(tenants.id, consoleMemberships.tenantId))
    .where(eq(consoleMemberships.userId, userId))
    .orderBy(asc(tenants.name))
    .all()
}

export async function listMembers(db: Db, tenantId: string, now = Date.now()) {
  const [members, invites] = await db.batch([
    db
      .select({
        userId: consoleUsers.id,
        email: consoleUsers.email,
        name: consoleUsers.name,
        role: consoleMemberships.role,
        createdAt: consoleMemberships.createdAt,
      })
      .from(consoleMemberships)
      .innerJoin(consoleUsers, eq(consoleUsers.id, consoleMemberships.userId))
      .where(eq(consoleMemberships.tenantId, tenantId))
      .orderBy(asc(consoleUsers.email)),
    db
      .select()
      .from(consoleInvites)
      .where(and(eq(consoleInvites.tenantId, tenantId), isNull(consoleInvites.acceptedAt), gt(consoleInvites.expiresAt, now)))
      .orderBy(asc(consoleInvites.createdAt)),
  ])
  return { members, invites }
}

export const inviteView = (i: ConsoleInviteRow) => ({
  id: i.id,
  email: i.email,
  role: i.role,
  created_at: i.createdAt,
  expires_at: i.expiresAt,
  created_by: i.createdBy,
})

/** A new invite; the token (in the link) is returned once and only its hash stored. */
export async function createInvite(db: Db, tenantId: string, input: { email: string; role: TenantRole }, by: Actor & { email: string }, now = Date.now()) {
  const token = randomToken()
  const row: ConsoleInviteRow = {
    id: newId('inv'),
    tenantId,
    email: input.email.toLowerCase(),
    role: input.role,
    tokenHash: await sha256Hex(token),
    createdBy: by.email,
    createdAt: now,
    expiresAt: now + INVITE_TTL_MS,
    acceptedAt: null,
    acceptedBy: null,
  }
  await db.batch([
    db.insert(consoleInvites).values(row),
    auditStatement(db, { actor: by.actor, requestId: by.requestId, action: 'console.invite.create', target: tenantId, after: inviteView(row) }),
  ])
  return { row, token }
}

export async function deleteInvite(db: Db, tenantId: string, inviteId: string, by: Actor): Promise<void> {
  const row = await db
    .select()
    .from(consoleInvites)
    .where(and(eq(consoleInvites.id, inviteId), eq(consoleInvites.tenantId, tenantId)))
    .get()
  if (!row || row.acceptedAt !== null)
    throw new ApiError('not_found', `No pending invite with id '${inviteId}'.`, { code: 'invite_not_found', param: 'inviteId' })
  await db.batch([
    db.delete(consoleInvites).where(eq(consoleInvites.id, row.id)),
    auditStatement(db, { ...by, action: 'console.invite.delete', target: tenantId, before: inviteView(row) }),
  ])
}

/**
 * Accepts an invite for the signed-in user: only with the invited email, once, before it expires. The membership
 * (the invite's role; an existing one takes it) and the invite's use are one batch, guarded so two accepts race safely.
 */
export async function acceptInvite(db: Db, token: string, user: ConsoleUserRow, requestId: string, now = Date.now()): Promise<{ tenantId: string }> {
  const row = await db
    .select()
    .from(consoleInvites)
    .where(eq(consoleInvites.tokenHash, await sha256Hex(token)))
    .get()
  if (!row || row.acceptedAt !== null || row.expiresAt <= now)
    throw new ApiError('not_found', 'This invite link is not valid (unknown, already used or expired). Ask for a new one.', { code: 'invite_not_found' })
  if (row.email !== user.email.toLowerCase())
    throw new ApiError('forbidden', `This invite is for another email address. You are signed in as ${user.email}.`, { code: 'invite_email_mismatch' })
  // One batch: the invite is claimed (only while unused), then the membership is made from the claimed row only,
  // so a lost race creates nothing.
  const [used] = await db.batch([
    db
      .update(consoleInvites)
      .set({ acceptedAt: now, acceptedBy: user.id })
      .where(and(eq(consoleInvites.id, row.id), isNull(consoleInvites.acceptedAt)))
      .returning({ id: consoleInvites.id }),
    db
      .insert(consoleMemberships)
      .select(
        db
          .select({
            tenantId: consoleInvites.tenantId,
            userId: sql<string>`${user.id}`.as('user_id'),
            role: consoleInvites.role,
            createdAt: sql<number>`${now}`.as('created_at'),
          })
          .from(consoleInvites)
          .where(and(eq(consoleInvites.id, row.id), eq(consoleInvites.acceptedBy, user.id), eq(consoleInvites.acceptedAt, now))),
      )
      .onConflictDoUpdate({ target: [consoleMemberships.tenantId, consoleMemberships.userId], set: { role: sql`excluded.role` } }),
    auditStatement(db, {
      ...userActor(user, requestId),
      action: 'console.invite.accept',
      target: row.tenantId,
      after: { user_id: user.id, email: user.email, role: row.role, invite_id: row.id },
    }),
  ])
  if (used.length === 0) throw new ApiError('conflict', 'This invite was just used.', { code: 'invite_used' })
  return { tenantId: row.tenantId }
}

/** Removes a member and ends all of their sessions (they sign in again and see what they still have). */
export async function removeMember(db: Db, tenantId: string, userId: string, by: Actor): Promise<void> {
  const member = await db
    .select({ role: consoleMemberships.role, email: consoleUsers.email })
    .from(consoleMemberships)
    .innerJoin(consoleUsers, eq(consoleUsers.id, consoleMemberships.userId))
    .where(and(eq(consoleMemberships.tenantId, tenantId), eq(consoleMemberships.userId, userId)))
    .get()
  if (!member) throw new ApiError('not_found', `No member with id '${userId}' in this tenant.`, { code: 'member_not_found', param: 'userId' })
  await db.batch([
    db.delete(consoleMemberships).where(and(eq(consoleMemberships.tenantId, tenantId), eq(consoleMemberships.userId, userId))),
    deleteUserSessions(db, userId),
    auditStatement(db, { ...by, action: 'console.member.remove', target: tenantId, before: { user_id: userId, email: member.email, role: member.role } }),
  ])
}

/** The tenants a user has a role in, with the role. */
export function tenantsOfUser(db: Db, userId: string) {
  return db
    .select({ tenant: tenants, role: consoleMemberships.role })
    .from(consoleMemberships)
    .innerJoin(tenants, eq(tenants.id, consoleMemberships.tenantId))
    .where(eq(consoleMemberships.userId, userId))
    .orderBy(asc(tenants.name))
    .all()
}
