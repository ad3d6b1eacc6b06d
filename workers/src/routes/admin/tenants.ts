// Admin: tenants, their keys and their usage.
import { Hono, type Context } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { createKeySchema, createTenantSchema, updateTenantSchema, usageQuerySchema } from '../../schemas/admin.ts'
import { createKey, keyView, listKeys } from '../../services/keys/key-admin.ts'
import { getTenant, tenantView } from '../../services/tenants/tenant-record.ts'
import { admissionState, createTenant, listTenants, updateTenant } from '../../services/tenants/tenants.ts'
import { tenantUsage } from '../../services/usage/usage-report.ts'
import { readJsonBody } from '../read-body.ts'
import { readQuery } from '../read-query.ts'

const actor = (c: Context<AppEnv>) => ({ actor: 'admin', requestId: c.get('requestId') })

async function requireTenant(c: Context<AppEnv>, id: string) {
  const tenant = await getTenant(createDb(c.env.DB), id)
  if (!tenant) throw new ApiError('not_found', `No tenant with id '${id}'.`, { code: 'tenant_not_found', param: 'id' })
  return tenant
}

export const adminTenants = new Hono<AppEnv>()
  .post('/tenants', async (c) => {
    const input = await readJsonBody(c, createTenantSchema)
    const tenant = await createTenant(c.env, createDb(c.env.DB), input, actor(c))
    return c.json(tenantView(tenant), 201)
  })
  .get('/tenants', async (c) => c.json({ object: 'list', data: (await listTenants(createDb(c.env.DB))).map(tenantView) }))
  .get('/tenants/:id', async (c) => c.json(tenantView(await requireTenant(c, c.req.param('id')))))
  .patch('/tenants/:id', async (c) => {
    const input = await readJsonBody(c, updateTenantSchema)
    const before = await requireTenant(c, c.req.param('id'))
    return c.json(tenantView(await updateTenant(c.env, createDb(c.env.DB), before, input, actor(c))))
  })
  .post('/tenants/:id/keys', async (c) => {
    const input = await readJsonBody(c, createKeySchema)
    const tenant = await requireTenant(c, c.req.param('id'))
    const { row, key } = await createKey(createDb(c.env.DB), tenant.id, input, actor(c))
    return c.json({ ...keyView(row), key }, 201) // the only time the secret is ever returned
  })
  .get('/tenants/:id/keys', async (c) => {
    const tenant = await requireTenant(c, c.req.param('id'))
    return c.json({ object: 'list', data: (await listKeys(createDb(c.env.DB), tenant.id)).map(keyView) })
  })
  .get('/tenants/:id/admission', async (c) => {
    const tenant = await requireTenant(c, c.req.param('id'))
    return c.json({ object: 'tenant.admission', tenant_id: tenant.id, ...(await admissionState(c.env, tenant.id)) })
  })
  .get('/tenants/:id/usage', async (c) => {
    const range = readQuery(c, usageQuerySchema)
    const tenant = await requireTenant(c, c.req.param('id'))
    return c.json(await tenantUsage(createDb(c.env.DB), tenant.id, range))
  })
