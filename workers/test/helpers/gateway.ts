// Test helpers that drive the whole Worker through its fetch handler, as a client would.
import { exports } from 'cloudflare:workers'

export const ADMIN_TOKEN = 'test-admin-token-0123456789'
const BASE = 'http://gateway.test'

export function call(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  let body = init.body
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json')
    body = JSON.stringify(init.json)
  }
  return exports.default.fetch(new Request(BASE + path, { ...init, headers, body }))
}

export const admin = (path: string, init: RequestInit & { json?: unknown } = {}) =>
  call(path, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...Object.fromEntries(new Headers(init.headers)) } })

export const api = (key: string, path: string, init: RequestInit & { json?: unknown } = {}) =>
  call(path, { ...init, headers: { authorization: `Bearer ${key}`, ...Object.fromEntries(new Headers(init.headers)) } })

async function created<T>(res: Response): Promise<T> {
  if (res.status !== 201) throw new Error(`expected 201, got ${res.status}: ${await res.text()}`)
  return (await res.json()) as T
}

/** A fresh tenant with one key; storage is per test file, so each test seeds its own. */
export async function seedTenant(limits?: Record<string, number>): Promise<{ tenantId: string; key: string; keyId: string }> {
  const tenant = await created<{ id: string }>(await admin('/admin/tenants', { method: 'POST', json: { name: `t-${crypto.randomUUID()}`, limits } }))
  const key = await created<{ id: string; key: string }>(await admin(`/admin/tenants/${tenant.id}/keys`, { method: 'POST', json: {} }))
  return { tenantId: tenant.id, key: key.key, keyId: key.id }
}

/** Registers a node; a healthy one is already `ready` when this returns (its first health check runs during registration). */
export async function registerNode(endpoint: string, models: string[], extra: Record<string, unknown> = {}): Promise<{ id: string; status: string }> {
  return created(await admin('/admin/nodes', { method: 'POST', json: { endpoint, models, ...extra } }))
}

export const uniqueModel = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`
