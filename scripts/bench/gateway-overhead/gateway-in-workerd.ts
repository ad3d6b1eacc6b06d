// Runs the production bundle of the Worker directly in workerd through Miniflare (no wrangler dev proxy in
// front), with the bindings wrangler.toml declares, fresh local D1 with migrations, and a seeded tenant + node.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { convertV4MiniflareOptions, Miniflare } from 'miniflare'
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from 'wrangler'
import { childrenNamed } from './proc-cpu.ts'

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')
const ADMIN_TOKEN = 'bench-admin-token-0123456789'

/**
 * Clients connect straight to the Worker's own socket, as at the edge: Miniflare's default entry socket first runs
 * Miniflare's own entry Worker, which routes the request to the target Worker: one more hop in the same thread,
 * that a deployed Worker does not pay. Both Workers here are reached the same way.
 */
const DIRECT_SOCKET = [{ host: '127.0.0.1', port: 0 }]
async function directUrl(mf: Miniflare, workerName: string): Promise<string> {
  await mf.ready
  return (await mf.unsafeGetDirectURL(workerName)).toString().replace(/\/$/, '')
}

/**
 * The workerd process a new Miniflare spawned (a child of this process): its CPU is read from /proc. Miniflare
 * instances are started one at a time, so the one workerd child that was not there before is this instance's.
 */
async function workerdPid(before: number[]): Promise<number> {
  const added = childrenNamed(process.pid, 'workerd').filter((pid) => !before.includes(pid))
  if (added.length !== 1) throw new Error(`expected one new workerd process, found ${added.length}`)
  return added[0] as number
}

export type BenchGateway = { url: string; key: string; pid: number; close(): Promise<void> }

/**
 * The floor any Worker pays here: a Worker that only forwards the request to the node with fetch(), run by the
 * same workerd/Miniflare. The gateway minus this is what CIC's own logic (auth, admission, routing, usage) adds.
 */
export async function startPassthroughInWorkerd(nodeUrl: string): Promise<{ url: string; pid: number; close(): Promise<void> }> {
  const script = `export default { fetch(request) { const url = new URL(request.url); return fetch(${JSON.stringify(nodeUrl)} + url.pathname, request) } }`
  return startScriptInWorkerd('passthrough', script)
}

/**
 * The floor of any gateway that routes by model and bills what it relays, in workerd: it reads and parses the
 * client's JSON body (the model is in it) and sends its own request to the node; a JSON answer is read whole and its
 * usage parsed (returned as read); a streamed one goes through JavaScript, one read and one write per chunk (into
 * workerd's native IdentityTransformStream, as CIC's relay does), nothing done to the bytes. What it costs over the
 * pass-through is what reading the bodies and entering the isolate per chunk cost; CIC can only add to it.
 */
export async function startJsRelayInWorkerd(nodeUrl: string): Promise<{ url: string; pid: number; close(): Promise<void> }> {
  const script = `export default { async fetch(request) {
    const url = new URL(request.url)
    const body = JSON.parse(await request.text())
    const res = await fetch(${JSON.stringify(nodeUrl)} + url.pathname, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: request.signal,
    })
    const type = res.headers.get('content-type') ?? ''
    if (!res.body || !type.startsWith('text/event-stream')) {
      const text = await res.text()
      if (res.ok && !JSON.parse(text).usage) throw new Error('no usage in the answer')
      return new Response(text, { status: res.status, headers: { 'content-type': type } })
    }
    const { readable, writable } = new IdentityTransformStream({ highWaterMark: 4096 })
    const relay = async () => {
      const reader = res.body.getReader()
      const writer = writable.getWriter()
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        await writer.write(value)
      }
      await writer.close()
    }
    relay().catch(() => {})
    return new Response(readable, { status: res.status, headers: { 'content-type': type } })
  } }`
  return startScriptInWorkerd('jsrelay', script)
}

async function startScriptInWorkerd(name: string, script: string): Promise<{ url: string; pid: number; close(): Promise<void> }> {
  const before = childrenNamed(process.pid, 'workerd')
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      name,
      modules: true,
      script,
      compatibilityDate: '2026-10-01',
      host: '127.0.0.1',
      port: 0,
      unsafeDirectSockets: DIRECT_SOCKET,
      handleStructuredLogs: () => {},
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  )
  const url = await directUrl(mf, name)
  return { url, pid: await workerdPid(before), close: () => mf.dispose() }
}

function buildBundle(root: string, outdir: string): string {
  const wrangler = path.join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js')
  const result = spawnSync(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', outdir], { cwd: root, stdio: 'pipe' })
  if (result.status !== 0) throw new Error(`bundle build failed:\n${result.stderr.toString()}`)
  return path.join(outdir, 'index.js')
}

export type BenchNode = { url: string; models: string[] }

/**
 * `inspectorPort` opens workerd's V8 inspector (for `npm run bench:profile`); `root` is the checkout whose Worker
 * is built and run (default this one; `npm run bench:compare` runs two); `onLog` gets each line workerd prints (the
 * Worker's JSON log lines, and V8's GC trace when MINIFLARE_WORKERD_V8_FLAGS asks for it: `npm run bench:tail`);
 * `assetsRouter` keeps the static assets and so Miniflare's assets router in front (see below).
 */
export async function startGatewayInWorkerd(
  nodes: BenchNode[],
  outdir: string,
  options: { inspectorPort?: number; root?: string; onLog?: (message: string) => void; assetsRouter?: boolean } = {},
): Promise<BenchGateway> {
  const root = options.root ?? ROOT
  const script = buildBundle(root, outdir)
  const before = childrenNamed(process.pid, 'workerd')
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(root, 'wrangler.toml'))
  // Without its static assets (the console and /docs, which the bench never asks for), unless assetsRouter: with
  // `[assets]`, Miniflare puts two Workers of its own in front of this one (its assets plugin: an RPC proxy, then
  // the assets router, then CIC), JavaScript in the same process, whose CPU /proc counts as CIC's: +220 µs per JSON
  // request (555 against 335 µs for the same handler, 2026-12-06). Deployed, the router is Cloudflare's and is not
  // billed: requests to assets are free, the Worker's own invocations are billed (developers.cloudflare.com/workers/
  // static-assets/billing-and-limitations/). The pass-through, the JS relay and Portkey have no router either.
  if (!options.assetsRouter) delete workerOptions.assets
  // wrangler still speaks Miniflare 4's flat options; Miniflare 5 converts them.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...workerOptions,
      name: 'cic-gateway',
      modules: [{ type: 'ESModule', path: script }],
      modulesRoot: outdir,
      // development: the stand-in nodes are on 127.0.0.1, which production-like environments refuse to fetch (and
      // they refuse these short bench secrets); every other rule is the production bundle's.
      bindings: {
        ...(workerOptions.bindings as Record<string, unknown>),
        ADMIN_TOKEN,
        SECRETS_KEY: 'bench-secrets-key-0123456789',
        ENVIRONMENT: 'development',
      },
      host: '127.0.0.1',
      port: 0,
      unsafeDirectSockets: DIRECT_SOCKET,
      // The access log still runs in the Worker; only its printing here is dropped (or handed to onLog).
      handleStructuredLogs: ({ message }: { message: string }) => options.onLog?.(message),
      ...(options.inspectorPort === undefined ? {} : { inspectorPort: options.inspectorPort }),
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  )
  const url = await directUrl(mf, 'cic-gateway')
  const pid = await workerdPid(before)
  const db = await mf.getD1Database('DB')
  const migrations = readdirSync(path.join(root, 'd1-migrations'))
    .filter((f) => f.endsWith('.sql'))
    .sort()
  for (const file of migrations) {
    for (const statement of unstable_splitSqlQuery(readFileSync(path.join(root, 'd1-migrations', file), 'utf8'))) await db.prepare(statement).run()
  }
  const adminPost = async (route: string, body: unknown) => {
    const res = await fetch(url + route, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (res.status !== 201) throw new Error(`${route}: ${res.status} ${await res.text()}`)
    return (await res.json()) as Record<string, string>
  }
  const tenant = await adminPost('/admin/tenants', { name: 'bench', plan: 'enterprise' }) // no limits: measure the path, not 429s
  const key = await adminPost(`/admin/tenants/${tenant.id}/keys`, {})
  for (const node of nodes) await adminPost('/admin/nodes', { endpoint: node.url, models: node.models })
  return { url, key: key.key as string, pid, close: () => mf.dispose() }
}
