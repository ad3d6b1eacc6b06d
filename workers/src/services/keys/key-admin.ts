// Creating, listing and revoking API keys. Revocation reaches the tenant's admission object before D1, so the
// very next request with the key is refused everywhere.
import { and, desc, eq, isNull } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { apiKeys, type ApiKeyRow } from '../../db/schema.ts'
import type { CreateKey } from '../../schemas/admin.ts'
import { auditStatement } from '../audit/audit-entry.ts'
import { newId, type Actor } from '../tenants/tenants.ts'
import { generateApiKey, hashApiKey } from './api-key.ts'
import { tenantGateName } from '../../../../durable-objects/tenant-gate/contract.ts'

export const keyView = (k: ApiKeyRow) => ({
  id: k.id,
  object: 'api_key',
  tenant_id: k.tenantId,
  name: k.name,
  prefix: k.prefix,
  limits: k.limits,
  created_at: k.createdAt,
  revoked_at: k.revokedAt,
})

/** `createdBy`: the console user creating it (a member may revoke only keys they created); absent for the admin token. */
export async function createKey(db: Db, tenantId: string, input: CreateKey, by: Actor, createdBy?: string): Promise<{ row: ApiKeyRow; key: string }> {
  const { key, prefix } = generateApiKey()
  const row: ApiKeyRow = {
    id: newId('key'),
    tenantId,
    name: input.name ?? null,
    keyHash: await hashApiKey(key),
    prefix,
    limits: input.limits ?? {},
    createdAt: Date.now(),
    revokedAt: null,
    createdBy: createdBy ?? null,
  }
  await db.batch([db.insert(apiKeys).values(row), auditStatement(db, { ...by, action: 'key.create', target: row.id, after: keyView(row) })])
  return { row, key }
}

export const listKeys = (db: Db, tenantId: string) => db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(desc(apiKeys.createdAt)).all()

export const getKey = (db: Db, id: string) => db.select().from(apiKeys).where(eq(apiKeys.id, id)).get()

export async function revokeKey(env: Env, db: Db, key: ApiKeyRow, by: Actor): Promise<ApiKeyRow> {
  await env.TENANT_GATE.getByName(tenantGateName(key.tenantId)).revokeKey(key.id)
  if (key.revokedAt) return key
  const revoked = { ...key, revokedAt: Date.now() }
  await db.batch([
    db
      .update(apiKeys)
      .set({ revokedAt: revoked.revokedAt })
      .where(and(eq(apiKeys.id, key.id), isNull(apiKeys.revokedAt))),
    auditStatement(db, { ...by, action: 'key.revoke', target: key.id, before: keyView(key), after: keyView(revoked) }),
  ])
  return revoked
}
