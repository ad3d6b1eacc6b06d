// End to end, on one machine, with no cloud: POST /admin/nodes/launch -> node-ops queue -> (dev) Worker consumer
// -> pull/ack shim -> orchestrator-runner (real entry point) -> `sky` stand-in -> vLLM stand-in node registers
// -> health check promotes it -> a chat completion is served by it through the gateway -> terminate drains it,
// `sky down` removes it, and its process is gone.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { startDevStack, type DevStack } from '../../scripts/dev-stack.ts'
import { startLocalRunner, type LocalRunner } from '../../scripts/local-runner.ts'
import { stopNode } from '../../scripts/sky-standin/node.ts'
import { listClusters, readCalls } from '../../scripts/sky-standin/state.ts'
import { freePort } from './free-port.ts'

let stack: DevStack
let runner: LocalRunner
let persistTo: string
let skyStateDir: string

async function adminCall(method: string, route: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(stack.url + route, {
    method,
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}
const nodeStatus = async (cluster: string) => (await adminCall('GET', `/admin/nodes/${cluster}/status`)).json
const chat = (model: string) =>
  fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.demo.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'launched node says hello' }], max_tokens: 5 }),
  })

beforeAll(async () => {
  persistTo = mkdtempSync(path.join(tmpdir(), 'cic-e2e-launch-'))
  skyStateDir = mkdtempSync(path.join(tmpdir(), 'cic-e2e-sky-'))
  stack = await startDevStack({ port: await freePort(), standinPort: await freePort(), persistTo, quiet: true })
  if (!stack.runnerToken) throw new Error('.dev.vars has no RUNNER_TOKEN')
  runner = startLocalRunner({ gatewayUrl: stack.url, runnerToken: stack.runnerToken, skyStateDir, quiet: true })
})

afterAll(async () => {
  await runner?.close()
  await stack?.close()
  for (const cluster of listClusters(skyStateDir)) stopNode(cluster.pid) // only if a test failed half-way
  rmSync(persistTo, { recursive: true, force: true })
  rmSync(skyStateDir, { recursive: true, force: true })
})

describe('launching a GPU node locally', () => {
  it('launches, registers, serves a chat completion, then terminates and removes the node', async () => {
    const model = `launched-llm-${crypto.randomUUID().slice(0, 8)}`
    const launched = await adminCall('POST', '/admin/nodes/launch', { provider: 'gcp', region: 'us-central1', gpu: 'A100-80GB', model })
    expect(launched.status).toBe(202)
    const cluster = launched.json.cluster_name as string
    expect(launched.json).toMatchObject({ cluster_name: expect.stringMatching(/^cic-a100-80gb-/), status: 'launching' })

    const ready = await vi.waitFor(
      async () => {
        const status = await nodeStatus(cluster)
        if (status.status !== 'ready') throw new Error(`node is ${String(status.status)} (${String(status.last_error)})\n${runner.output().slice(-2000)}`)
        return status
      },
      { timeout: 90_000, interval: 250 },
    )
    expect(ready).toMatchObject({ models: [model], endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), last_error: null, attempts: 1 })
    const endpoint = ready.endpoint as string

    const res = await chat(model)
    expect(res.status).toBe(200)
    const completion = (await res.json()) as { model: string; choices: { message: { content: string } }[]; usage: { completion_tokens: number } }
    expect(completion).toMatchObject({ model, usage: { completion_tokens: 5 } })
    expect(completion.choices[0]?.message.content).toBe('launched node says hello launched ')
    // The node requires the key minted for it: the gateway used it, nobody else has it.
    expect((await fetch(`${endpoint}/v1/models`)).status).toBe(401)
    expect(readCalls(skyStateDir).filter((c) => c.argv[0] === 'launch')).toHaveLength(1)

    const terminated = await adminCall('POST', `/admin/nodes/${cluster}/terminate`)
    expect(terminated).toMatchObject({ status: 202, json: { cluster_name: cluster, status: 'terminating' } })
    expect((await nodeStatus(cluster)).status).toBe('draining')
    expect((await chat(model)).status).toBe(503) // out of routing at once

    await vi.waitFor(async () => expect((await nodeStatus(cluster)).status).toBe('terminated'), { timeout: 60_000, interval: 250 })
    expect(readCalls(skyStateDir).map((c) => c.argv)).toContainEqual(['down', '-y', cluster])
    expect(listClusters(skyStateDir)).toEqual([])
    await vi.waitFor(
      async () => {
        await expect(fetch(`${endpoint}/health`)).rejects.toThrow()
      },
      { timeout: 10_000 },
    )
  })
})
