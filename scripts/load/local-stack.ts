// `npm run load` without --url: the dev stack (scripts/dev-stack.ts: wrangler dev, local D1, Queues) on free
// ports with fresh state in a temporary folder, plus the load's own stand-in nodes in separate processes (so
// they do not share the load generator's event loop): one answering at once (a generation and an embedding
// model), one pacing its tokens like a GPU (20 ms to the first token, 200 tokens/s) so streams have a real
// time to first token and requests overlap. Everything is stopped and removed by close().
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startDevStack } from '../dev-stack.ts'
import type { NodeSpec } from './setup.ts'

const STANDIN_MAIN = path.resolve(import.meta.dirname, '..', 'vllm-standin', 'main.ts')

export const LOCAL_MODELS = { fast: 'cic-load-llm', paced: 'cic-load-paced', embedding: 'cic-load-embed' }

export type LocalStack = { url: string; adminToken: string; nodes: NodeSpec[]; models: string[]; embeddingModels: string[]; close(): Promise<void> }

/** A TCP port that was free a moment ago (as test/e2e/free-port.ts; scripts do not import tests). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function startStandinProcess(flags: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [STANDIN_MAIN, '--port', '0', ...flags], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`vllm stand-in exited with code ${code}: ${out}`)))
  })
  return { url, child }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

export async function startLocalStack(log: (line: string) => void): Promise<LocalStack> {
  const persistTo = mkdtempSync(path.join(tmpdir(), 'cic-load-'))
  const children: ChildProcess[] = []
  const cleanup = async () => {
    await Promise.all(children.map(stopProcess))
    rmSync(persistTo, { recursive: true, force: true })
  }
  try {
    const fast = await startStandinProcess(['--model', LOCAL_MODELS.fast, '--embedding-model', LOCAL_MODELS.embedding])
    children.push(fast.child)
    const paced = await startStandinProcess(['--model', LOCAL_MODELS.paced, '--ttft-ms', '20', '--tps', '200'])
    children.push(paced.child)
    log(`stand-in nodes ${fast.url} (${LOCAL_MODELS.fast}, ${LOCAL_MODELS.embedding}) and ${paced.url} (${LOCAL_MODELS.paced}, paced)`)
    log('starting the dev stack (wrangler dev, local D1 and Queues)…')
    const stack = await startDevStack({ port: await freePort(), standinPort: await freePort(), persistTo, quiet: true })
    log(`gateway ${stack.url}`)
    return {
      url: stack.url,
      adminToken: stack.adminToken,
      nodes: [
        { endpoint: fast.url, models: [LOCAL_MODELS.fast, LOCAL_MODELS.embedding] },
        { endpoint: paced.url, models: [LOCAL_MODELS.paced] },
      ],
      models: [LOCAL_MODELS.fast, LOCAL_MODELS.paced],
      embeddingModels: [LOCAL_MODELS.embedding],
      close: async () => {
        await stack.close()
        await cleanup()
      },
    }
  } catch (err) {
    await cleanup()
    throw err
  }
}
