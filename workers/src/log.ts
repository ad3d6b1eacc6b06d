// Structured logs: one JSON object per line, always with the request id when there is one; never a key.
// Lines written while a request is handled (its waitUntil work included) carry its `request_id`, and its
// `tenant_id` once auth has resolved the tenant, without the caller passing them: observe-request.ts runs the
// request inside withRequestId, api-key-auth.ts calls setLogTenant.
import { AsyncLocalStorage } from 'node:async_hooks'

type Fields = Record<string, unknown>
type Scope = { requestId: string; tenantId: string | null }
const requestScope = new AsyncLocalStorage<Scope>()

/** Runs `fn` (and everything it starts) with `requestId` stamped on its log lines. */
export const withRequestId = <T>(requestId: string, fn: () => T): T => requestScope.run({ requestId, tenantId: null }, fn)

/**
 * Stamps `tenantId` on every later line of the current request. The scope object is shared by everything the
 * request started, so work already under way (a waitUntil) gets it too. No-op outside a request.
 */
export function setLogTenant(tenantId: string): void {
  const scope = requestScope.getStore()
  if (scope) scope.tenantId = tenantId
}

const scopeFields = (scope: Scope | undefined): Fields =>
  !scope ? {} : scope.tenantId === null ? { request_id: scope.requestId } : { request_id: scope.requestId, tenant_id: scope.tenantId }

const write = (level: string, msg: string, fields: Fields) => {
  console.log(JSON.stringify({ level, msg, time: new Date().toISOString(), ...scopeFields(requestScope.getStore()), ...fields }))
}

export const log = {
  info: (msg: string, fields: Fields = {}) => write('info', msg, fields),
  warn: (msg: string, fields: Fields = {}) => write('warn', msg, fields),
  error: (msg: string, fields: Fields = {}) => write('error', msg, fields),
}
