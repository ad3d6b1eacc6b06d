// Random keys do not reach D1 (issue 14, "Bounded"): a key whose text is wrong (malformed, or a current-format key
// whose check fails) is a 401 without any D1 query; every refused key counts against its client (cf-connecting-ip),
// and a client past the bound is answered 429 with Retry-After, before any lookup, while other clients are not.
// Keys issued before the check (legacy format) still work. Each test uses its own client address: the rate-limit
// binding's counters are not reset between tests.
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { generateApiKey, hashApiKey, keyFormat } from '../../src/services/keys/api-key.ts'
import { AUTH_FAILURE_LIMIT } from '../../src/services/keys/auth-failures.ts'
import { admin, api, call, seedTenant } from '../helpers/gateway.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.ts'
import { eventually } from '../helpers/standin.ts'

const METRICS_TOKEN = 'test-metrics-token-0123456789'
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const randomBase62 = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => BASE62[b % 62]).join('')
const legacyKey = () => `sk-cic-${randomBase62(40)}`
/** A current-length key whose check is wrong (the last character changed). */
const badCheck = (key: string) => key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a')
const clientIp = () => `10.${Array.from(crypto.getRandomValues(new Uint8Array(3))).join('.')}` // one of 2^24: unique per test
const ipv6 = () => `2001:db8:${randomHex()}:${randomHex()}::1`
const randomHex = () => (crypto.getRandomValues(new Uint16Array(1))[0] ?? 0).toString(16)
const from = (ip: string, key: string, path = '/v1/models') => api(key, path, { headers: { 'cf-connecting-ip': ip } })

/** D1 statements prepared while `run` runs (every D1 query of the Worker goes through env.DB.prepare). */
async function d1Queries<T>(run: () => Promise<T>): Promise<{ result: T; queries: number }> {
  const prepare = vi.spyOn(env.DB, 'prepare')
  try {
    const result = await run()
    return { result, queries: prepare.mock.calls.length }
  } finally {
    prepare.mockRestore()
  }
}

async function authFailures(reason: string): Promise<number> {
  const text = await (await call('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text()
  return sampleValue(parsePrometheusText(text), 'cic_auth_failures_total', { reason })
}

/** Sends refused keys from `ip` until the first 429; returns how many were sent, that one included. */
async function failUntilThrottled(ip: string): Promise<{ attempts: number; res: Response }> {
  // The binding counts in fixed windows (miniflare's aligns them to the clock, production's are approximate): a run
  // that crosses a window boundary restarts the count once, so the 429 comes after LIMIT to 2 * LIMIT refusals.
  for (let attempts = 1; attempts <= 2 * AUTH_FAILURE_LIMIT + 1; attempts++) {
    const res = await from(ip, `sk-${randomBase62(20)}`)
    if (res.status === 429) return { attempts, res }
    expect(res.status).toBe(401)
    await res.body?.cancel()
  }
  throw new Error(`no 429 after ${2 * AUTH_FAILURE_LIMIT + 1} refused keys`)
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('the key check', () => {
  it('a new key from the admin API carries it, and works', async () => {
    const { key } = await seedTenant()
    expect(key).toMatch(/^sk-cic-[0-9A-Za-z]{46}$/)
    expect(keyFormat(key)).toBe('current')
    expect((await from(clientIp(), key)).status).toBe(200)
  })

  it('a key whose check fails is a 401 without any D1 query; the same key, unknown but well formed, costs one', async () => {
    const ip = clientIp()
    const { key } = generateApiKey() // well formed, never stored
    const refused = await d1Queries(() => from(ip, badCheck(key)))
    expect(refused.result.status).toBe(401)
    expect(await refused.result.json()).toMatchObject({
      error: { type: 'authentication_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' },
    })
    expect(refused.queries).toBe(0)
    const unknown = await d1Queries(() => from(ip, key)) // the control: the spy does see the lookup
    expect(unknown.result.status).toBe(401)
    expect(unknown.queries).toBe(1)
  })

  it.each([
    ['a random sk- string', `sk-${randomBase62(48)}`],
    ['a short sk-cic- key', 'sk-cic-doesnotexist'],
    ['a current-length key with a character outside base62', `sk-cic-${randomBase62(45)}!`],
  ])('%s is a 401 without any D1 query', async (_, key) => {
    const { result, queries } = await d1Queries(() => from(clientIp(), key))
    expect(result.status).toBe(401)
    expect(queries).toBe(0)
  })

  it('a legacy key (issued before the check: sk-cic- and 40 characters) still works, looked up in D1', async () => {
    const { tenantId } = await seedTenant()
    const key = legacyKey()
    expect(keyFormat(key)).toBe('legacy')
    await env.DB.prepare('INSERT INTO api_keys (id, tenant_id, key_hash, prefix) VALUES (?, ?, ?, ?)')
      .bind(`key_legacy_${crypto.randomUUID()}`, tenantId, await hashApiKey(key), key.slice(0, 12))
      .run()
    const first = await d1Queries(() => from(clientIp(), key))
    expect(first.result.status).toBe(200)
    expect(first.queries).toBeGreaterThan(0)
  })
})

describe('the bound on refused keys per client', () => {
  it('answers 429 with Retry-After past the limit, then refuses even D1-format keys without a D1 query', async () => {
    const ip = clientIp()
    const { attempts, res } = await failUntilThrottled(ip)
    expect(attempts).toBeGreaterThan(AUTH_FAILURE_LIMIT)
    expect(res.headers.get('x-request-id')).toMatch(/^req_/)
    const retryAfter = Number(res.headers.get('retry-after'))
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true)
    expect(await res.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'too_many_failed_authentications' } })

    const legacy = await d1Queries(() => from(ip, legacyKey()))
    expect(legacy.result.status).toBe(429)
    expect(legacy.result.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/)
    expect(legacy.queries).toBe(0)
  })

  it('leaves other clients alone: their bad keys are 401s and their good keys work', async () => {
    const { key } = await seedTenant()
    const attacker = clientIp()
    await failUntilThrottled(attacker)
    const other = clientIp()
    expect((await from(other, `sk-${randomBase62(20)}`)).status).toBe(401)
    expect((await from(other, key)).status).toBe(200)
    expect((await from(attacker, `sk-${randomBase62(20)}`)).status).toBe(429) // still throttled: not a fluke of the window
  })

  it('still serves a throttled client a key this isolate already knows (no D1 read needed)', async () => {
    const { key } = await seedTenant()
    const ip = clientIp()
    expect((await from(ip, key)).status).toBe(200) // cached in this isolate
    await failUntilThrottled(ip)
    expect((await from(ip, key)).status).toBe(200)
  })

  it('counts an IPv6 client by its /64', async () => {
    const address = ipv6()
    const neighbour = address.replace(/::1$/, '::2') // same /64
    await failUntilThrottled(address)
    expect((await from(neighbour, `sk-${randomBase62(20)}`)).status).toBe(429)
  })

  it('does not count a revoked key against its client', async () => {
    const ip = clientIp()
    const { key, keyId } = await seedTenant()
    await admin(`/admin/keys/${keyId}`, { method: 'DELETE' })
    for (let i = 0; i <= AUTH_FAILURE_LIMIT; i++) {
      const res = await from(ip, key)
      expect(res.status).toBe(401)
      await res.body?.cancel()
    }
  })
})

const REASONS = ['malformed', 'checksum', 'unknown', 'revoked', 'throttled'] as const
type Counts = Record<(typeof REASONS)[number], number>
const allAuthFailures = async (): Promise<Counts> => {
  const [malformed, checksum, unknown, revoked, throttled] = await Promise.all(REASONS.map(authFailures))
  return { malformed: malformed ?? 0, checksum: checksum ?? 0, unknown: unknown ?? 0, revoked: revoked ?? 0, throttled: throttled ?? 0 }
}

describe('cic_auth_failures_total', () => {
  it('counts each refusal once, by reason', async () => {
    const before = await allAuthFailures()
    const { key, keyId } = await seedTenant()
    await admin(`/admin/keys/${keyId}`, { method: 'DELETE' })
    const ip = clientIp()
    expect((await from(ip, 'sk-nonsense')).status).toBe(401)
    expect((await from(ip, badCheck(generateApiKey().key))).status).toBe(401)
    expect((await from(ip, generateApiKey().key)).status).toBe(401)
    expect((await from(ip, key)).status).toBe(401)
    const { attempts } = await failUntilThrottled(clientIp()) // attempts - 1 malformed, then 1 throttled
    const expected: Counts = {
      malformed: before.malformed + 1 + attempts - 1,
      checksum: before.checksum + 1,
      unknown: before.unknown + 1,
      revoked: before.revoked + 1,
      throttled: before.throttled + 1,
    }
    await eventually(allAuthFailures, (now) => REASONS.every((r) => now[r] === expected[r]))
  })
})
