// End to end: a few seconds of `npm run load` against the local stack it starts (wrangler dev, local D1 and
// Queues, stand-in nodes): the ledger holds every request that reached a node once, no limit was exceeded,
// the limited tenants were refused by the right layer, and the report has its figures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseOptions } from './options.ts'
import { prepareTarget, type Prepared } from './prepare-target.ts'
import type { Report } from './report.ts'
import { runLoadTest } from './run-load.ts'

let prepared: Prepared
let report: Report
const options = parseOptions(['--rate', '12', '--duration', '6s', '--seed', '42'])

beforeAll(async () => {
  prepared = await prepareTarget(options, () => {})
  report = await runLoadTest({ ...options, url: prepared.url, admin: prepared.admin, target: prepared.target })
}, 110_000)

afterAll(async () => {
  await prepared?.close()
})

describe('npm run load against the local stack', () => {
  it('sends the schedule open loop and reports rate, latency and time to first token', () => {
    expect(report.requests).toMatchObject({ scheduled: 72, sent: 72, dropped: 0, answered: 72 })
    expect(report.rate.target).toBe(12)
    expect(report.latencyMs.ok.count).toBeGreaterThan(0)
    expect(report.latencyMs.ok.p99).toBeGreaterThanOrEqual(report.latencyMs.ok.p50)
    expect(report.ttftMs.count).toBeGreaterThan(0)
    expect(Object.keys(report.byKind)).toEqual(expect.arrayContaining(['chat', 'chat_stream', 'completion', 'embedding']))
    expect(report.errors).toEqual({})
  })

  it('finds every request that reached a node in the ledger exactly once, tokens included', () => {
    expect(report.ledger).toMatchObject({ ok: true, exact: true })
    for (const t of report.ledger!.tenants) {
      expect(t.counted).toBe(t.expected.min)
      expect(t.tokens.ledger).toBe(t.tokens.client)
    }
    expect(report.ledger!.tenants.reduce((n, t) => n + t.counted, 0)).toBe(report.status['200'])
  })

  it('sees the limited tenants refused by their own layer, and no limit exceeded', () => {
    expect(report.rateLimited.rpm).toBeGreaterThan(0)
    expect(report.rateLimited.key_rpm).toBeGreaterThan(0)
    expect(report.rateLimited.unknown).toBeUndefined()
    expect(report.limits?.ok).toBe(true)
    expect(report.limits?.findings.map((f) => f.limit)).toEqual(expect.arrayContaining(['rpm', 'key_rpm', 'concurrency']))
    expect(report.ok).toBe(true)
  })
})
