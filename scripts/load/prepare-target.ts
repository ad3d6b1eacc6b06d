// Where a run's requests go and who they come from: the local stack started for the run (no --url), or a
// running gateway with tenants set up now (or reused from --keys-file with --skip-setup).
import type { Admin } from './admin-client.ts'
import { startLocalStack } from './local-stack.ts'
import type { LoadTarget } from './mix.ts'
import type { LoadOptions } from './options.ts'
import { loadTarget, saveTarget, setupTarget } from './setup.ts'

export type Prepared = { url: string; admin: Admin; target: LoadTarget; close(): Promise<void> }

export async function prepareTarget(o: LoadOptions, log: (line: string) => void): Promise<Prepared> {
  const runId = `load-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}-${o.seed}`
  const shape = { ratePerSecond: o.ratePerSecond, durationMs: o.durationMs, tenants: o.tenants, keysPerTenant: o.keysPerTenant, runId }
  if (!o.url) {
    const stack = await startLocalStack(log)
    try {
      const admin = { url: stack.url, token: stack.adminToken }
      const target = await setupTarget(admin, { ...shape, nodes: stack.nodes, models: stack.models, embeddingModels: stack.embeddingModels })
      if (o.keysOut) saveTarget(o.keysOut, target)
      return { url: stack.url, admin, target, close: stack.close }
    } catch (err) {
      await stack.close()
      throw err
    }
  }
  if (!o.adminToken) throw new Error('--url needs the admin token: --admin-token or $ADMIN_TOKEN')
  const admin = { url: o.url, token: o.adminToken }
  const close = async () => {}
  if (o.skipSetup) return { url: o.url, admin, target: loadTarget(o.keysFile!), close }
  const models = o.models.length > 0 ? o.models : ['cic-demo-llm']
  const embeddingModels = o.embeddingModels.length > 0 ? o.embeddingModels : ['cic-demo-embed']
  const nodes = o.nodes.map((endpoint) => ({ endpoint, models: [...models, ...embeddingModels] }))
  const target = await setupTarget(admin, { ...shape, nodes, models, embeddingModels })
  if (o.keysOut) saveTarget(o.keysOut, target)
  log(`set up ${target.tenants.length} tenants (${runId}-t*) on ${o.url}`)
  return { url: o.url, admin, target, close }
}
