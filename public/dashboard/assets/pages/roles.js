// What the viewer's role allows in a tenant, from GET /me (the server checks every call again).

/** 'operator' | 'tenant_admin' | 'tenant_member' | null */
export function roleIn(me, tenantId) {
  if (me.operator) return 'operator'
  return me.memberships.find((m) => m.tenant_id === tenantId)?.role ?? null
}
export const canAdminister = (me, tenantId) => ['operator', 'tenant_admin'].includes(roleIn(me, tenantId))
