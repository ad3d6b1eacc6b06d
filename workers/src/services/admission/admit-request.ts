// One RPC to the tenant's admission object per request; its refusals become the client's 401/403.
import { ApiError } from '../../errors.ts'
import type { TenantIdentity } from '../keys/resolve-key.ts'

export async function admitRequest(env: Env, identity: TenantIdentity): Promise<void> {
  const gate = env.TENANT_GATE.getByName(`tenant:${identity.tenantId}`)
  const result = await gate.admit({ tenantId: identity.tenantId, keyId: identity.keyId })
  if (result.ok) return
  switch (result.reason) {
    case 'key_revoked':
      throw new ApiError('unauthorized', 'This API key has been revoked.', { code: 'invalid_api_key' })
    case 'tenant_unknown':
      throw new ApiError('unauthorized', 'Incorrect API key provided.', { code: 'invalid_api_key' })
    case 'tenant_suspended':
      throw new ApiError('forbidden', result.message, { code: 'account_suspended', headers: { 'x-should-retry': 'false' } })
    default: {
      const unreachable: never = result
      throw new Error(`unhandled admission refusal ${JSON.stringify(unreachable)}`)
    }
  }
}
