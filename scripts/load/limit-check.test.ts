import { describe, expect, it } from 'vitest'
import { checkConcurrency, checkRateLimits, maxCertainInWindow, type AdmittedRequest } from './limit-check.ts'

const at = (from: number, to = from, tenant = 0, key = 0): AdmittedRequest => ({ from, to, tenant, key })
const limits = (rpm: number, keyRpm = 0, concurrency = 0) => [{ rpm, keyRpm, concurrency }]

describe('the rolling-window check', () => {
  it('fails a tenant that got one admission more than its rpm within 60 s', () => {
    const admitted = Array.from({ length: 11 }, (_, i) => at(i * 5_000)) // 11 in 50 s
    const [finding] = checkRateLimits(admitted, limits(10))
    expect(finding).toMatchObject({ limit: 'rpm', allowed: 10, observed: 11, ok: false })
  })

  it('passes the same admissions spread so that no 60 s span holds more than the rpm', () => {
    const admitted = Array.from({ length: 11 }, (_, i) => at(i * 6_000)) // first and last exactly 60 s apart
    expect(checkRateLimits(admitted, limits(10))).toEqual([expect.objectContaining({ observed: 10, ok: true })])
  })

  it("does not blame the server for what only the client's timing uncertainty could put in one window", () => {
    // Each admission happened somewhere between sending (from) and the response headers (to): the last one
    // may have been admitted after the first left the window, so this is not a certain overshoot.
    const admitted = [...Array.from({ length: 10 }, (_, i) => at(i * 100)), at(59_000, 60_500)]
    expect(maxCertainInWindow(admitted)).toBe(10)
    expect(maxCertainInWindow([...admitted.slice(0, 10), at(59_000, 59_900)])).toBe(11)
  })

  it('checks each key of a key-rpm tenant on its own', () => {
    const admitted = [at(0, 1, 0, 0), at(10, 11, 0, 0), at(20, 21, 0, 0), at(30, 31, 0, 1)]
    const findings = checkRateLimits(admitted, limits(0, 2))
    expect(findings).toEqual([
      expect.objectContaining({ limit: 'key_rpm', key: 0, observed: 3, ok: false }),
      expect.objectContaining({ limit: 'key_rpm', key: 1, observed: 1, ok: true }),
    ])
  })

  it('leaves unlimited tenants unchecked and judges concurrency from the sampled in-flight counts', () => {
    expect(checkRateLimits([at(0), at(1)], limits(0))).toEqual([])
    expect(checkConcurrency([3], limits(0, 0, 2))).toEqual([expect.objectContaining({ limit: 'concurrency', observed: 3, ok: false })])
    expect(checkConcurrency([2], limits(0, 0, 2))[0]?.ok).toBe(true)
  })
})
