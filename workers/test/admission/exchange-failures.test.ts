// A location whose exchanges with the home fail counts each one in cic_admission_exchange_failures_total (the runbook
// docs/runbooks/admission-exchange-failures.md and the AdmissionExchangeFailures alert read it), and still answers.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { AdmissionLocation } from '../../../durable-objects/admission-location/admission-location.ts'
import { locationName } from '../../../durable-objects/admission-location/contract.ts'
import type { TenantGate } from '../../../durable-objects/tenant-gate/tenant-gate.ts'
import { call } from '../helpers/gateway.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.ts'
import { eventually } from '../helpers/standin.ts'

const METRICS_TOKEN = 'test-metrics-token-0123456789'
const FAILURES = 'cic_admission_exchange_failures_total'
const scrape = async () => {
  const res = await call('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  expect(res.status).toBe(200)
  return sampleValue(parsePrometheusText(await res.text()), FAILURES)
}

type HomeCall = <T>(call: (home: DurableObjectStub<TenantGate>) => Promise<T>) => Promise<T>

describe('cic_admission_exchange_failures_total', () => {
  it('counts every failed exchange of a location with its home, and nothing else', async () => {
    const tenantId = `t-${crypto.randomUUID()}`
    await env.TENANT_GATE.getByName(`tenant:${tenantId}`).configure({
      tenantId,
      status: 'active',
      statusReason: null,
      plan: 'enterprise',
      limits: { rpm: 1_000, tpm: 1_000_000, concurrency: 100 },
      updatedAt: 1,
    })
    const name = locationName(tenantId, 'weur')
    const healthy = env.ADMISSION_LOCATION.getByName(locationName(tenantId, 'enam'))
    const before = await scrape()
    expect((await healthy.admitMany({ location: locationName(tenantId, 'enam'), admits: [{ tenantId, keyId: 'k1' }], settles: [] }))[0]?.ok).toBe(true)
    expect(await scrape()).toBe(before) // a working exchange counts nothing

    const stub = env.ADMISSION_LOCATION.getByName(name)
    const failed = await runInDurableObject(stub, async (location: AdmissionLocation) => {
      // The home is unreachable for exchanges only (its other calls still work, so the admission gets an answer).
      const target = location as unknown as { homeCall: HomeCall }
      const homeCall = target.homeCall.bind(location)
      let failures = 0
      target.homeCall = (call) =>
        homeCall((home) =>
          call(
            new Proxy(home, {
              get: (t, p) => {
                if (p !== 'exchange') return Reflect.get(t, p)
                return () => {
                  failures++
                  return Promise.reject(new Error('home unreachable'))
                }
              },
            }),
          ),
        )
      const [r] = await location.admitMany({ location: name, admits: [{ tenantId, keyId: 'k1' }], settles: [] })
      expect(r).toBeDefined()
      return failures
    })
    expect(failed).toBeGreaterThan(0)
    expect(await eventually(scrape, (v) => v >= before + failed)).toBe(before + failed)
  })
})
