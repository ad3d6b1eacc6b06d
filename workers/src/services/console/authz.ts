// Who may do what in the console, decided on the server for every read and write. Operators (OPERATOR_EMAILS)
// may do everything; otherwise the user's role in the tenant named by the URL decides, and no role is a 403
// whether or not the tenant exists (a member of A learns nothing about B).
import type { Db } from '../../db/client.ts'
import type { ConsoleUserRow, TenantRow } from '../../db/schema.ts'
import { ApiError } from '../../errors.ts'
import type { TenantRole } from '../../schemas/console.ts'
import { CONSOLE_ID } from '../../schemas/console.ts'
import { getTenant } from '../tenants/tenant-record.ts'
import type { Membership } from './users.ts'

export type Principal = {
  user: ConsoleUserRow
  operator: boolean
  memberships: Membership[]
  session: { idHash: string; csrfToken: string }
}

/** What a tenant route does; each is granted to the roles listed. */
export const TENANT_RIGHTS = {
  read: ['tenant_admin', 'tenant_member'], // usage, limits, keys (prefixes), members
  create_key: ['tenant_admin', 'tenant_member'],
  revoke_any_key: ['tenant_admin'], // a member revokes only keys they created (checked by the route)
  manage_members: ['tenant_admin'],
  manage_billing: ['tenant_admin'],
} as const satisfies Record<string, readonly TenantRole[]>
export type TenantRight = keyof typeof TENANT_RIGHTS

export type TenantAccess = { tenant: TenantRow; role: TenantRole | 'operator' }

const forbidden = () => new ApiError('forbidden', 'You do not have access to this tenant or action.', { code: 'forbidden' })

export function roleIn(principal: Principal, tenantId: string): TenantRole | 'operator' | undefined {
  if (principal.operator) return 'operator'
  return principal.memberships.find((m) => m.tenantId === tenantId)?.role
}

export function hasRight(role: TenantRole | 'operator' | undefined, right: TenantRight): boolean {
  if (role === 'operator') return true
  return role !== undefined && (TENANT_RIGHTS[right] as readonly TenantRole[]).includes(role)
}

/** The tenant of the URL if the principal holds `right` in it; else 403 (404 only for an operator and a missing tenant). */
export async function requireTenantRight(db: Db, principal: Principal, tenantId: string, right: TenantRight): Promise<TenantAccess> {
  const role = roleIn(principal, tenantId)
  if (!hasRight(role, right) || role === undefined) throw forbidden()
  const tenant = CONSOLE_ID.test(tenantId) ? await getTenant(db, tenantId) : undefined
  if (!tenant) {
    if (role === 'operator') throw new ApiError('not_found', `No tenant with id '${tenantId}'.`, { code: 'tenant_not_found', param: 'tenantId' })
    throw forbidden()
  }
  return { tenant, role }
}

export function requireOperator(principal: Principal): void {
  if (!principal.operator) throw new ApiError('forbidden', 'Only operators may do this.', { code: 'forbidden' })
}
