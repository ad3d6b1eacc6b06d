// Console JSON API for tenants (/dashboard/api): what a signed-in user may see and do in each tenant, checked
// on the server for every call (services/console/authz.ts). Changes go through the admin API's services
// (tenants, keys) with the user's email as the audit actor.
import { type Context, Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { ApiKeyRow, TenantRow } from '../../db/schema.ts'
import { ApiError } from '../../errors.ts'
import {
  CONSOLE_ID,
  consoleCreateKeySchema,
  consoleCreateTenantSchema,
  consoleUsageQuerySchema,
  createInviteSchema,
  type TenantRole,
} from '../../schemas/console.ts'
import { hasRight, type Principal, requireOperator, requireTenantRight, roleIn, type TenantRight } from '../../services/console/authz.ts'
import { usageCsv, usageSeries } from '../../services/console/usage-series.ts'
import { createInvite, deleteInvite, inviteView, listMembers, removeMember, tenantsOfUser, userActor } from '../../services/console/users.ts'
import { createKey, getKey, listKeys, revokeKey } from '../../services/keys/key-admin.ts'
import { admissionState, createTenant, listTenants } from '../../services/tenants/tenants.ts'
import { readJsonBody } from '../read-body.ts'
import { readQuery } from '../read-query.ts'
import type { AppEnv } from '../../env.ts'
import { principalOf } from './console-auth.ts'

const actorOf = (c: Context<AppEnv>) => ({ ...userActor(principalOf(c).user, c.get('requestId')), email: principalOf(c).user.email })

const tenantItem = (t: TenantRow, role: TenantRole | 'operator') => ({ id: t.id, name: t.name, plan: t.plan, status: t.status, role })

/** The URL's tenant, if the caller holds `right` in it (403 otherwise, whatever the tenant). */
const access = (c: Context<AppEnv>, right: TenantRight) => requireTenantRight(createDb(c.env.DB), principalOf(c), c.req.param('tenantId') ?? '', right)

function keyItem(k: ApiKeyRow, principal: Principal) {
  const role = roleIn(principal, k.tenantId)
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    created_at: k.createdAt,
    created_by: k.createdBy,
    revoked_at: k.revokedAt,
    can_revoke: k.revokedAt === null && (hasRight(role, 'revoke_any_key') || (k.createdBy !== null && k.createdBy === principal.user.id)),
  }
}

export const tenantApi = new Hono<AppEnv>()
  .get('/me', (c) => {
    const p = principalOf(c)
    return c.json({
      user: { id: p.user.id, email: p.user.email, name: p.user.name },
      operator: p.operator,
      memberships: p.memberships.map((m) => ({ tenant_id: m.tenantId, tenant_name: m.tenantName, role: m.role })),
      csrf_token: p.session.csrfToken,
    })
  })
  .get('/tenants', async (c) => {
    const p = principalOf(c)
    const db = createDb(c.env.DB)
    if (p.operator) return c.json({ tenants: (await listTenants(db)).map((t) => tenantItem(t, 'operator')) })
    return c.json({ tenants: (await tenantsOfUser(db, p.user.id)).map(({ tenant, role }) => tenantItem(tenant, role)) })
  })
  .post('/tenants', async (c) => {
    requireOperator(principalOf(c))
    const input = await readJsonBody(c, consoleCreateTenantSchema)
    const tenant = await createTenant(c.env, createDb(c.env.DB), input, actorOf(c))
    return c.json(tenantItem(tenant, 'operator'), 201)
  })
  .get('/tenants/:tenantId', async (c) => {
    const { tenant, role } = await access(c, 'read')
    const gate = await admissionState(c.env, tenant.id)
    return c.json({
      ...tenantItem(tenant, role),
      status_reason: tenant.statusReason,
      limits: {
        rpm: gate.limits.rpm,
        tpm: gate.limits.tpm,
        concurrency: gate.limits.concurrency,
        key_rpm: gate.limits.keyRpm,
        budget_tokens: gate.limits.budgetTokens,
      },
      current: {
        requests_last_minute: gate.requestsInWindow,
        tokens_last_minute: gate.tokensInWindow,
        in_flight: gate.inFlight,
        budget_used: gate.limits.budgetTokens > 0 ? gate.budget.committed + gate.budget.reserved : 0,
      },
      billing: { stripe_customer_id: tenant.stripeCustomerId, has_billing_account: tenant.stripeCustomerId !== null },
    })
  })
  .get('/tenants/:tenantId/usage', async (c) => {
    const { tenant } = await access(c, 'read')
    return c.json(await usageSeries(createDb(c.env.DB), tenant.id, readQuery(c, consoleUsageQuerySchema)))
  })
  .get('/tenants/:tenantId/usage.csv', async (c) => {
    const { tenant } = await access(c, 'read')
    const usage = await usageSeries(createDb(c.env.DB), tenant.id, readQuery(c, consoleUsageQuerySchema))
    return c.body(usageCsv(usage.series), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="usage-${tenant.id}.csv"`,
    })
  })
  .get('/tenants/:tenantId/keys', async (c) => {
    const { tenant } = await access(c, 'read')
    const p = principalOf(c)
    return c.json({ keys: (await listKeys(createDb(c.env.DB), tenant.id)).map((k) => keyItem(k, p)) })
  })
  .post('/tenants/:tenantId/keys', async (c) => {
    const { tenant } = await access(c, 'create_key')
    const input = await readJsonBody(c, consoleCreateKeySchema)
    const { row, key } = await createKey(createDb(c.env.DB), tenant.id, { name: input.name }, actorOf(c), principalOf(c).user.id)
    return c.json({ id: row.id, name: row.name, prefix: row.prefix, key }, 201) // the only time the secret is shown
  })
  .delete('/tenants/:tenantId/keys/:keyId', async (c) => {
    const { tenant, role } = await access(c, 'read')
    const p = principalOf(c)
    const db = createDb(c.env.DB)
    const keyId = c.req.param('keyId')
    const key = CONSOLE_ID.test(keyId) ? await getKey(db, keyId) : undefined
    if (!key || key.tenantId !== tenant.id)
      throw new ApiError('not_found', `No API key with id '${keyId}' in this tenant.`, { code: 'key_not_found', param: 'keyId' })
    if (!hasRight(role, 'revoke_any_key') && key.createdBy !== p.user.id)
      throw new ApiError('forbidden', 'Members may revoke only the keys they created.', { code: 'forbidden' })
    await revokeKey(c.env, db, key, actorOf(c))
    return c.json({ id: key.id, revoked: true as const })
  })
  .get('/tenants/:tenantId/members', async (c) => {
    const { tenant, role } = await access(c, 'read')
    const { members, invites } = await listMembers(createDb(c.env.DB), tenant.id)
    return c.json({
      members: members.map((m) => ({ user_id: m.userId, email: m.email, name: m.name, role: m.role, created_at: m.createdAt })),
      // Pending invites (who was invited, by whom) are for those who manage members.
      invites: hasRight(role, 'manage_members') ? invites.map(inviteView) : [],
    })
  })
  .post('/tenants/:tenantId/invites', async (c) => {
    const { tenant } = await access(c, 'manage_members')
    const input = await readJsonBody(c, createInviteSchema)
    const { row, token } = await createInvite(createDb(c.env.DB), tenant.id, input, actorOf(c))
    return c.json({ ...inviteView(row), invite_url: `${new URL(c.req.url).origin}/dashboard/invites/${token}` }, 201)
  })
  .delete('/tenants/:tenantId/invites/:inviteId', async (c) => {
    const { tenant } = await access(c, 'manage_members')
    const inviteId = c.req.param('inviteId')
    if (!CONSOLE_ID.test(inviteId)) throw new ApiError('not_found', `No pending invite with id '${inviteId}'.`, { code: 'invite_not_found', param: 'inviteId' })
    await deleteInvite(createDb(c.env.DB), tenant.id, inviteId, actorOf(c))
    return c.json({ id: inviteId, deleted: true as const })
  })
  .delete('/tenants/:tenantId/members/:userId', async (c) => {
    const { tenant } = await access(c, 'manage_members')
    const userId = c.req.param('userId')
    if (!CONSOLE_ID.test(userId))
      throw new ApiError('not_found', `No member with id '${userId}' in this tenant.`, { code: 'member_not_found', param: 'userId' })
    await removeMember(createDb(c.env.DB), tenant.id, userId, actorOf(c))
    return c.json({ id: userId, deleted: true as const })
  })
