import { describe, expect, it } from 'vitest'
import { generateApiKey, keyCheck, keyFormat } from './api-key.ts'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const legacyKey = () => `sk-cic-${Array.from(crypto.getRandomValues(new Uint8Array(40)), (b) => BASE62[b % 62]).join('')}`
/** The same key with character `i` replaced by another base62 character. */
const flip = (key: string, i: number) => key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1)

describe('keyCheck', () => {
  it('is CRC32 (IEEE) in six base62 digits', () => {
    // CRC32("123456789") = 0xCBF43926, the standard check value; in base62 (0-9A-Za-z) 3jZRME.
    expect(keyCheck('123456789')).toBe('3jZRME')
    expect(keyCheck('')).toBe('000000')
  })
})

describe('keyFormat', () => {
  it('accepts every generated key as current: sk-cic-, 40 body and 6 check characters', () => {
    for (let i = 0; i < 50; i++) {
      const { key, prefix } = generateApiKey()
      expect(key).toMatch(/^sk-cic-[0-9A-Za-z]{46}$/)
      expect(prefix).toBe(key.slice(0, 12))
      expect(keyFormat(key)).toBe('current')
    }
  })

  it('refuses a current-length key with any one character changed, body or check', () => {
    const { key } = generateApiKey()
    for (const i of [7, 20, 46, 47, 52]) expect(keyFormat(flip(key, i))).toBe('checksum')
  })

  it('keeps legacy keys (sk-cic- and 40 base62 characters) apart, for a D1 lookup', () => {
    expect(keyFormat(legacyKey())).toBe('legacy')
  })

  it.each([
    ['another prefix', `sk-xyz-${'a'.repeat(40)}`],
    ['too short', 'sk-cic-doesnotexist'],
    ['between the two lengths', `sk-cic-${'a'.repeat(43)}`],
    ['too long', `sk-cic-${'a'.repeat(47)}`],
    ['a non-base62 character', `sk-cic-${'a'.repeat(39)}-`],
    ['non-ASCII', `sk-cic-${'é'.repeat(40)}`],
    ['empty', ''],
  ])('calls a key malformed when it has %s', (_, key) => {
    expect(keyFormat(key)).toBe('malformed')
  })
})
