import { afterEach, describe, expect, it } from 'vitest'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { createRunnerHealth, startHealthServer } from './health.ts'

let server: Server | null = null
afterEach(() => {
  server?.close()
  server = null
})

describe('runner health', () => {
  it('is healthy while pulls succeed or every slot is busy, unhealthy after staleMs of failing pulls', () => {
    let t = 1_000
    const health = createRunnerHealth({ staleMs: 100, now: () => t })
    expect(health.status().ok).toBe(true) // a fresh start gets staleMs
    t += 101
    expect(health.status().ok).toBe(false)
    health.pulled(true)
    expect(health.status().ok).toBe(true)
    t += 50
    health.pulled(false)
    t += 51
    expect(health.status()).toMatchObject({ ok: false, failedPullsInRow: 1 })
    health.saturated(true) // long launches hold every slot: no pull is expected
    t += 10_000
    expect(health.status().ok).toBe(true)
    health.saturated(false)
    expect(health.status().ok).toBe(true)
  })

  it('answers GET /healthz with 200 or 503 and 404 elsewhere', async () => {
    let t = 0
    const health = createRunnerHealth({ staleMs: 10, now: () => t })
    server = startHealthServer(0, health)
    await new Promise((resolve) => server?.once('listening', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const ok = await fetch(`${base}/healthz`)
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ status: 'ok', failed_pulls_in_row: 0 })
    t = 11
    expect((await fetch(`${base}/healthz`)).status).toBe(503)
    expect((await fetch(`${base}/other`)).status).toBe(404)
  })
})
