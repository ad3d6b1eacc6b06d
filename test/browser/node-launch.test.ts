// An operator launches a GPU node from the console (launch form -> node-ops queue -> orchestrator-runner -> `sky`
// stand-in -> vLLM stand-in registers), watches the row reach `ready` through the page's polling, then
// terminates it from the row and watches it reach `terminated`. Same stack as test/e2e/node-launch.test.ts.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DevStack, startDevStack } from '../../scripts/dev-stack.ts'
import { type LocalRunner, startLocalRunner } from '../../scripts/local-runner.ts'
import { stopNode } from '../../scripts/sky-standin/node.ts'
import { listClusters, readCalls } from '../../scripts/sky-standin/state.ts'
import { freePort } from '../e2e/free-port.ts'
import { type Console, launchBrowser, openConsole, operatorEmail, screenshot, signIn } from './harness.ts'

let stack: DevStack
let runner: LocalRunner
let browser: Browser
let operator: Console
let persistTo: string
let skyStateDir: string

beforeAll(async () => {
  browser = await launchBrowser()
  persistTo = mkdtempSync(path.join(tmpdir(), 'cic-browser-launch-'))
  skyStateDir = mkdtempSync(path.join(tmpdir(), 'cic-browser-sky-'))
  stack = await startDevStack({ port: await freePort(), standinPort: await freePort(), persistTo, quiet: true })
  if (!stack.runnerToken) throw new Error('.dev.vars has no RUNNER_TOKEN')
  // HEALTH_PORT 0: no health server, whose fixed default port (8080) another test's runner may hold.
  runner = startLocalRunner({ gatewayUrl: stack.url, runnerToken: stack.runnerToken, skyStateDir, quiet: true, env: { HEALTH_PORT: '0' } })
  operator = await openConsole(browser, operatorEmail(), stack.url)
  await signIn(stack.url, operator)
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await runner?.close()
  await stack?.close()
  for (const cluster of skyStateDir ? listClusters(skyStateDir) : []) stopNode(cluster.pid) // only if a test failed half-way
  if (persistTo) rmSync(persistTo, { recursive: true, force: true })
  if (skyStateDir) rmSync(skyStateDir, { recursive: true, force: true })
})

describe('nodes in the console', () => {
  it('launches a node from the form, sees it ready, drains and resumes it, terminates it from its row', async () => {
    const page = operator.page
    await page.goto(`${stack.url}/dashboard/ops/nodes`)
    const model = `ui-launched-${crypto.randomUUID().slice(0, 8)}`
    const form = page.getByRole('form', { name: 'Launch node' })
    await form.getByLabel('Provider').selectOption('gcp')
    await form.getByLabel('Region').fill('us-central1')
    await form.getByLabel('GPU', { exact: true }).fill('A100-80GB')
    await form.getByLabel('Model').fill(model)
    await form.getByRole('button', { name: 'Launch node' }).click()

    const row = page.getByRole('row').filter({ hasText: model })
    await expect.poll(() => row.count()).toBe(1)
    const statusCell = row.getByRole('cell').nth(1) // Name, Status, …
    await expect
      .poll(() => statusCell.textContent(), { timeout: 90_000, interval: 500, message: 'the node never became ready' })
      .toBe('ready')
      .catch((err: Error) => {
        throw new Error(`${err.message}\n--- runner output ---\n${runner.output().slice(-3000)}`)
      })
    const name = (await row.getByRole('cell').first().textContent()) ?? ''
    expect(name).toMatch(/^cic-a100-80gb-/)
    await screenshot(page, 'operator-nodes-ready')
    expect(readCalls(skyStateDir).filter((c) => c.argv[0] === 'launch')).toHaveLength(1)

    // Drain takes it out of routing; resume checks it at once and puts it back.
    await row.getByRole('button', { name: `Drain ${name}` }).click()
    await expect.poll(() => statusCell.textContent(), { timeout: 30_000, interval: 500 }).toBe('draining')
    await row.getByRole('button', { name: `Resume ${name}` }).click()
    await expect.poll(() => statusCell.textContent(), { timeout: 30_000, interval: 500 }).toBe('ready')

    await row.getByRole('button', { name: `Terminate ${name}` }).click()
    await expect.poll(() => statusCell.textContent(), { timeout: 60_000, interval: 500 }).toBe('terminated')
    expect(readCalls(skyStateDir).map((c) => c.argv)).toContainEqual(['down', '-y', name])
    expect(listClusters(skyStateDir)).toEqual([])
    expect(operator.cspViolations).toEqual([])
    await screenshot(page, 'operator-nodes-terminated')
  }, 240_000)
})
