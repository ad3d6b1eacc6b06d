// Console sessions and sign-in attempts in D1. The browser holds a random id (cookie); D1 holds its SHA-256,
// the user, a CSRF token and two times: the session ends `idleMs` after its last use or `maxMs` after the sign-in,
// whichever comes first, and at sign-out or when the user is removed from a tenant (all of the user's sessions).
import { and, eq, lt } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { consoleLogins, consoleSessions, consoleUsers, type ConsoleSessionRow, type ConsoleUserRow } from '../../db/schema.ts'
import { randomToken, sha256Hex } from './secure-token.ts'

/** last_seen_at is written at most this often (not on every request: the idle lifetime is hours). */
const TOUCH_EVERY_MS = 60_000
/** A sign-in attempt must come back from the issuer within this time. */
export const LOGIN_TTL_MS = 10 * 60_000

export type Lifetimes = { idleMs: number; maxMs: number }

export async function createSession(db: Db, userId: string, now = Date.now()): Promise<{ cookie: string; csrfToken: string }> {
  const cookie = randomToken()
  const csrfToken = randomToken()
  await db.insert(consoleSessions).values({ idHash: await sha256Hex(cookie), userId, csrfToken, createdAt: now, lastSeenAt: now })
  return { cookie, csrfToken }
}

export type LiveSession = { session: ConsoleSessionRow; user: ConsoleUserRow }

/** The session of a cookie if it is live; an expired one is deleted. One read (+ one write when it is time to touch). */
export async function readSession(db: Db, cookie: string, lifetimes: Lifetimes, now = Date.now()): Promise<LiveSession | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(cookie)) return undefined
  const idHash = await sha256Hex(cookie)
  const found = await db
    .select({ session: consoleSessions, user: consoleUsers })
    .from(consoleSessions)
    .innerJoin(consoleUsers, eq(consoleUsers.id, consoleSessions.userId))
    .where(eq(consoleSessions.idHash, idHash))
    .get()
  if (!found) return undefined
  const { session } = found
  if (now - session.lastSeenAt >= lifetimes.idleMs || now - session.createdAt >= lifetimes.maxMs) {
    await db.delete(consoleSessions).where(eq(consoleSessions.idHash, idHash))
    return undefined
  }
  if (now - session.lastSeenAt >= TOUCH_EVERY_MS) {
    await db.update(consoleSessions).set({ lastSeenAt: now }).where(eq(consoleSessions.idHash, idHash))
    return { ...found, session: { ...session, lastSeenAt: now } }
  }
  return found
}

export const deleteSession = (db: Db, idHash: string) => db.delete(consoleSessions).where(eq(consoleSessions.idHash, idHash))

/** Every session of a user (removed from a tenant): their next request is 401 and they sign in again. */
export const deleteUserSessions = (db: Db, userId: string) => db.delete(consoleSessions).where(eq(consoleSessions.userId, userId))

export type PendingLogin = { state: string; nonce: string; codeVerifier: string; returnTo: string }

/** Stores a sign-in attempt under a fresh browser cookie's hash; expired attempts are swept in the same batch. */
export async function saveLogin(db: Db, login: PendingLogin, now = Date.now()): Promise<string> {
  const cookie = randomToken()
  await db.batch([
    db.delete(consoleLogins).where(lt(consoleLogins.expiresAt, now)),
    db.insert(consoleLogins).values({ idHash: await sha256Hex(cookie), ...login, expiresAt: now + LOGIN_TTL_MS }),
  ])
  return cookie
}

/** Takes (reads and deletes: one use) the sign-in attempt of this browser, if it has not expired. */
export async function takeLogin(db: Db, cookie: string, now = Date.now()): Promise<PendingLogin | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(cookie)) return undefined
  const idHash = await sha256Hex(cookie)
  const [row] = await db.delete(consoleLogins).where(eq(consoleLogins.idHash, idHash)).returning()
  if (!row || row.expiresAt <= now) return undefined
  return { state: row.state, nonce: row.nonce, codeVerifier: row.codeVerifier, returnTo: row.returnTo }
}

/** Sweeps sessions past their absolute lifetime (called at sign-in; the idle ones go when next presented). */
export const sweepSessions = (db: Db, lifetimes: Lifetimes, now = Date.now()) =>
  db.delete(consoleSessions).where(and(lt(consoleSessions.createdAt, now - lifetimes.maxMs)))
