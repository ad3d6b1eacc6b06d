// The Portkey gateway 1.15.2 on Node, for comparison only: installed on demand into scripts/bench/portkey
// (its own package.json, gitignored node_modules; not a product dependency) and run as the project documents it,
// `node build/start-server.js --port=N --headless`. It is routed per request with `x-portkey-provider: openai`
// and `x-portkey-custom-host: <node>/v1`.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'

const DIR = path.resolve(import.meta.dirname, '..', 'portkey')
const ENTRY = path.join(DIR, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js')

function installIfMissing(): void {
  if (existsSync(ENTRY)) return
  console.log('installing @portkey-ai/gateway 1.15.2 into scripts/bench/portkey (bench only)...')
  // npm's own CLI when run through `npm run` (npm_execpath), else `npm` from PATH.
  const npmCli = process.env.npm_execpath
  const [command, args] = npmCli ? [process.execPath, [npmCli, 'ci', '--no-audit', '--no-fund']] : ['npm', ['ci', '--no-audit', '--no-fund']]
  const run = spawnSync(command, args, { cwd: DIR, stdio: 'inherit' })
  if (run.status !== 0 || !existsSync(ENTRY)) throw new Error('could not install the Portkey gateway into scripts/bench/portkey')
}

export type Portkey = { url: string; pid: number; headersFor(nodeUrl: string): Record<string, string>; stop(): void }

export async function startPortkey(port: number): Promise<Portkey> {
  installIfMissing()
  const child = spawn(process.execPath, [ENTRY, `--port=${port}`, '--headless'], { cwd: DIR, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (data: Buffer) => {
      output += data.toString()
      if (output.includes('Ready for connections') || output.includes(`:${port}`)) resolve()
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString()
    })
    child.once('exit', (code) => reject(new Error(`Portkey exited with ${code}: ${output}`)))
  })
  child.stdout.removeAllListeners('data')
  child.stdout.resume()
  child.stderr.resume()
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    headersFor: (nodeUrl) => ({ 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${nodeUrl}/v1`, authorization: 'Bearer bench' }),
    stop: () => child.kill('SIGTERM'),
  }
}
