// The vLLM stand-in the benches load, as a process of its own: it then shares an event loop with neither the load
// generator nor a gateway, and its CPU is read apart from theirs.
import { spawn } from 'node:child_process'
import path from 'node:path'

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')

export type StandinProcess = { url: string; pid: number; stop(): void }

/** Starts `scripts/vllm-standin/main.ts` on `port` with `flags` (--model, --answer-tokens, --tps, ...); resolves once it listens. */
export async function startStandinProcess(port: number, flags: string[]): Promise<StandinProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/vllm-standin/main.ts'), '--port', String(port), ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`stand-in exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}`, pid: child.pid as number, stop: () => child.kill('SIGTERM') }
}
