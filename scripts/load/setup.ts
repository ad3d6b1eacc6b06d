// Prepares a run through the admin API: T tenants with K keys each, limits chosen so that some requests are
// refused (one tenant by rpm, one by each key's rpm, one by concurrency; the rest unlimited), and the stand-in
// nodes registered and ready. The result (tenants, keys, models) can be saved and reused with --skip-setup.
import { readFileSync, writeFileSync } from 'node:fs'
import { adminCall, type Admin } from './admin-client.ts'
import type { LoadTarget } from './mix.ts'

export type NodeSpec = { endpoint: string; models: string[] }

export type SetupOptions = {
  ratePerSecond: number
  durationMs: number
  tenants: number
  keysPerTenant: number
  /** Prefix of the tenant names, unique per run. */
  runId: string
  /** Nodes to register (none: the models are already served by registered nodes). */
  nodes: NodeSpec[]
  models: string[]
  embeddingModels: string[]
}

type Overrides = { rpm?: number; key_rpm?: number; concurrency?: number }

/**
 * Tenant i's limit overrides on the `enterprise` plan (no limits of its own). A tenant gets rate / T requests a
 * second; within the run's first minute (or the whole run, if shorter) the limited ones are allowed about half
 * of what they are sent, so their 429s show and their windows fill. Concurrency: one in flight per 50 req/s.
 */
export function plannedLimits(i: number, o: Pick<SetupOptions, 'ratePerSecond' | 'durationMs' | 'tenants' | 'keysPerTenant'>): Overrides {
  const perTenantPerWindow = (o.ratePerSecond / o.tenants) * Math.min(60, o.durationMs / 1000)
  switch (i) {
    case 0:
      return { rpm: Math.max(2, Math.floor(perTenantPerWindow / 2)) }
    case 1:
      return { key_rpm: Math.max(1, Math.floor(perTenantPerWindow / o.keysPerTenant / 2)) }
    case 2:
      return { concurrency: Math.max(1, Math.floor(o.ratePerSecond / o.tenants / 50)) }
    default:
      return {}
  }
}

async function waitForReady(admin: Admin, nodeIds: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const id of nodeIds) {
    for (;;) {
      const node = await adminCall<{ status: string }>(admin, 'GET', `/admin/nodes/${encodeURIComponent(id)}`)
      if (node.status === 'ready') break
      if (Date.now() > deadline) throw new Error(`node ${id} is ${node.status}, not ready, after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }
}

export async function setupTarget(admin: Admin, o: SetupOptions): Promise<LoadTarget> {
  const nodeIds: string[] = []
  for (const node of o.nodes) nodeIds.push((await adminCall<{ id: string }>(admin, 'POST', '/admin/nodes', node)).id)
  await waitForReady(admin, nodeIds)
  const tenants: LoadTarget['tenants'] = []
  for (let i = 0; i < o.tenants; i++) {
    const name = `${o.runId}-t${i}`
    const tenant = await adminCall<{ id: string }>(admin, 'POST', '/admin/tenants', { name, plan: 'enterprise', limits: plannedLimits(i, o) })
    const keys = []
    for (let k = 0; k < o.keysPerTenant; k++) {
      keys.push(await adminCall<{ id: string; key: string }>(admin, 'POST', `/admin/tenants/${tenant.id}/keys`, { name: `${name}-k${k}` }))
    }
    tenants.push({ id: tenant.id, name, keys: keys.map(({ id, key }) => ({ id, key })) })
  }
  return { tenants, models: o.models, embeddingModels: o.embeddingModels }
}

export function saveTarget(file: string, target: LoadTarget): void {
  writeFileSync(file, `${JSON.stringify(target, null, 2)}\n`, { mode: 0o600 }) // holds API keys
}

export function loadTarget(file: string): LoadTarget {
  const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<LoadTarget>
  if (!Array.isArray(value.tenants) || value.tenants.length === 0 || !Array.isArray(value.models) || !Array.isArray(value.embeddingModels)) {
    throw new Error(`${file}: expected {tenants: [{id, name, keys: [{id, key}]}], models: [...], embeddingModels: [...]}`)
  }
  return value as LoadTarget
}
