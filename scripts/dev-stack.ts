// Starts the whole product on this machine: a vLLM stand-in node, local D1 with migrations applied, and the
// Worker with its Durable Objects and Queues under `wrangler dev` (workerd); then seeds a demo tenant, key
// and node through the admin API. Used by `npm run dev` and by the end-to-end tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { startStandin, type Standin } from './vllm-standin/server.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const WRANGLER = path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js')

export type DevStackOptions = { port: number; standinPort: number; persistTo: string; quiet?: boolean }
export type DevStack = {
  url: string
  adminToken: string
  standin: Standin
  demo: { tenantId: string; key: string; model: string }
  close(): Promise<void>
}

/** Creates .dev.vars from the documented example the first time, so a fresh clone needs no manual step. */
export function ensureDevVars(): Record<string, string> {
  const file = path.join(ROOT, '.dev.vars')
  if (!existsSync(file)) copyFileSync(path.join(ROOT, '.dev.vars.example'), file)
  const vars: Record<string, string> = {}
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/.exec(line)
    if (match?.[1]) vars[match[1]] = (match[2] ?? '').replace(/^"(.*)"$/, '$1')
  }
  return vars
}

function wrangler(args: string[], quiet: boolean): void {
  const result = spawnSync(process.execPath, [WRANGLER, ...args], { cwd: ROOT, stdio: quiet ? 'pipe' : 'inherit', env: { ...process.env, CI: 'true' } })
  if (result.status !== 0) throw new Error(`wrangler ${args.join(' ')} failed:\n${result.stderr?.toString() ?? ''}`)
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`)
    try {
      if ((await fetch(`${url}/health`)).ok) return
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`the gateway did not become healthy within ${timeoutMs} ms`)
}

async function adminCall<T>(url: string, token: string, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(url + route, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${route} -> ${res.status}: ${await res.text()}`)
  return (await res.json()) as T
}

async function seedDemo(url: string, token: string, standin: Standin) {
  const tenants = await adminCall<{ data: { id: string; name: string }[] }>(url, token, 'GET', '/admin/tenants')
  const tenant = tenants.data.find((t) => t.name === 'demo') ?? await adminCall<{ id: string }>(url, token, 'POST', '/admin/tenants', { name: 'demo' })
  const nodes = await adminCall<{ data: { id: string; endpoint: string; status: string }[] }>(url, token, 'GET', '/admin/nodes')
  for (const stale of nodes.data.filter((n) => n.endpoint.startsWith('http://127.0.0.1:') && n.endpoint !== standin.url)) {
    await adminCall(url, token, 'DELETE', `/admin/nodes/${stale.id}`) // a stand-in from an earlier run, on another port
  }
  const existing = nodes.data.find((n) => n.endpoint === standin.url)
  if (!existing) {
    await adminCall(url, token, 'POST', '/admin/nodes', { endpoint: standin.url, models: ['cic-demo-llm', 'cic-demo-embed'], name: `standin-${standin.port}` })
  } else if (existing.status !== 'ready') {
    // Its monitor marked it failed (or it was drained) while no stand-in listened on this port: check it now.
    await adminCall(url, token, 'POST', `/admin/nodes/${existing.id}/resume`)
  }
  const key = await adminCall<{ key: string }>(url, token, 'POST', `/admin/tenants/${tenant.id}/keys`, { name: `dev ${new Date().toISOString()}` })
  return { tenantId: tenant.id, key: key.key, model: 'cic-demo-llm' }
}

export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const quiet = options.quiet ?? false
  const vars = ensureDevVars()
  const adminToken = vars.ADMIN_TOKEN
  if (!adminToken) throw new Error('.dev.vars has no ADMIN_TOKEN')
  const standin = await startStandin({ port: options.standinPort })
  wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', options.persistTo], quiet)
  const child = spawn(process.execPath, [WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(options.port), '--persist-to', options.persistTo, '--show-interactive-dev-session=false'], {
    cwd: ROOT, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'], env: { ...process.env, CI: 'true' },
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { output += d.toString() })
  const url = `http://127.0.0.1:${options.port}`
  const close = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    }
    await standin.close()
  }
  try {
    await waitForHealth(url, child, 90_000)
    const demo = await seedDemo(url, adminToken, standin)
    return { url, adminToken, standin, demo, close }
  } catch (err) {
    await close()
    throw new Error(`${String(err)}\n--- wrangler output ---\n${output.slice(-4000)}`)
  }
}
