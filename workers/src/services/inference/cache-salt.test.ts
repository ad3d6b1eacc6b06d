import { describe, expect, it } from 'vitest'
import { cacheSaltFor } from './cache-salt.ts'
import { withCacheSalt } from './upstream-body.ts'

const secret = 's'.repeat(32)
const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }

describe('cacheSaltFor', () => {
  it('is a 43-character base64url value, stable for one (tenant, client salt)', async () => {
    const salt = await cacheSaltFor(secret, 'ten_a', null)
    expect(salt).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(await cacheSaltFor(secret, 'ten_a', null)).toBe(salt)
  })

  it('differs per tenant, per client salt and per SECRETS_KEY; an empty client salt is no salt', async () => {
    const salts = await Promise.all([
      cacheSaltFor(secret, 'ten_a', null),
      cacheSaltFor(secret, 'ten_b', null),
      cacheSaltFor(secret, 'ten_a', 'user-1'),
      cacheSaltFor(secret, 'ten_a', 'user-2'),
      cacheSaltFor('k'.repeat(32), 'ten_a', null),
    ])
    expect(new Set(salts).size).toBe(salts.length)
    expect(await cacheSaltFor(secret, 'ten_a', '')).toBe(salts[0])
  })
})

/** The salt computed from its definition, without the module's key or salt caches. */
async function saltByDefinition(secretsKey: string, tenantId: string, clientSalt: string): Promise<string> {
  const te = new TextEncoder()
  const base = await crypto.subtle.importKey('raw', te.encode(secretsKey), 'HKDF', false, ['deriveKey'])
  const key = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: te.encode('cic/cache-salt/v1') },
    base,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign'],
  )
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, te.encode(`${tenantId}\n${clientSalt}`)))
  return btoa(String.fromCharCode(...mac))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

describe('cacheSaltFor, remembered per isolate', () => {
  it('answers from memory what the HMAC gives, also once more salts than it keeps have been asked for', async () => {
    const first = await cacheSaltFor(secret, 'ten_m', 'u-0')
    expect(first).toBe(await saltByDefinition(secret, 'ten_m', 'u-0'))
    for (let i = 1; i <= 1_100; i++) await cacheSaltFor(secret, 'ten_m', `u-${i}`) // past the cache's 1,000: emptied once
    for (const i of [0, 999, 1_050, 1_100]) expect(await cacheSaltFor(secret, 'ten_m', `u-${i}`)).toBe(await saltByDefinition(secret, 'ten_m', `u-${i}`))
    // another SECRETS_KEY never gets the first one's remembered salt
    expect(await cacheSaltFor('k'.repeat(32), 'ten_m', 'u-0')).toBe(await saltByDefinition('k'.repeat(32), 'ten_m', 'u-0'))
  })
})

describe('withCacheSalt', () => {
  it("sets the gateway's salt in place of the client's", () => {
    expect(withCacheSalt({ ...chat, cache_salt: 'mine' }, 'gw')).toEqual({ ...chat, cache_salt: 'gw' })
    expect(withCacheSalt(chat, 'gw')).toEqual({ ...chat, cache_salt: 'gw' })
  })

  it("drops the client's salt when the node gets none, and leaves a body without one as it is", () => {
    expect(withCacheSalt({ ...chat, cache_salt: 'mine' }, null)).toEqual(chat)
    expect(withCacheSalt(chat, null)).toBe(chat)
  })
})
