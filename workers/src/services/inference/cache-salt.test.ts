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
