import { describe, expect, it } from 'vitest'
import { AUTH_FAILURE_PERIOD_SECONDS, authClient, blockedFor, countAuthFailure, type FailureLimiter } from './auth-failures.ts'

const headers = (ip?: string) => new Headers(ip === undefined ? {} : { 'cf-connecting-ip': ip })
const limiter = (success: boolean): FailureLimiter => ({ limit: async () => ({ success }) })

describe('authClient', () => {
  it.each([
    ['an IPv4 address as is', '203.0.113.7', '203.0.113.7'],
    ['an IPv6 address by its /64', '2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['a compressed IPv6 address, expanded', '2001:db8::1', '2001:db8:0:0::/64'],
    ['leading zeros dropped', '2001:0db8:0001:0002::', '2001:db8:1:2::/64'],
    ['an IPv4-mapped address whole', '::ffff:203.0.113.7', '::ffff:203.0.113.7'],
  ])('counts %s', (_, ip, client) => {
    expect(authClient(headers(ip), true)).toBe(client)
  })

  it('counts nothing without the header outside production (wrangler dev, tests: no client address to count by)', () => {
    expect(authClient(headers(), false)).toBeNull()
  })

  it('counts a production request without the header as one unknown client', () => {
    expect(authClient(headers(), true)).toBe('unknown')
  })
})

describe('countAuthFailure', () => {
  it('blocks a client in this isolate for a period once the binding refuses it, and no one else', async () => {
    const now = 1_000_000
    expect(await countAuthFailure(limiter(true), 'client-a', now)).toBeNull()
    expect(blockedFor('client-a', now)).toBeNull()
    expect(await countAuthFailure(limiter(false), 'client-a', now)).toBe(AUTH_FAILURE_PERIOD_SECONDS)
    expect(blockedFor('client-a', now + 30_500)).toBe(30)
    expect(blockedFor('client-b', now)).toBeNull()
    expect(blockedFor('client-a', now + AUTH_FAILURE_PERIOD_SECONDS * 1000)).toBeNull()
  })

  it('does not ask the binding again while the client is blocked, and survives a failing binding', async () => {
    const now = 2_000_000
    await countAuthFailure(limiter(false), 'client-c', now)
    const throwing: FailureLimiter = {
      limit: async () => {
        throw new Error('binding down')
      },
    }
    expect(await countAuthFailure(throwing, 'client-c', now + 1000)).toBe(AUTH_FAILURE_PERIOD_SECONDS - 1)
    expect(await countAuthFailure(throwing, 'client-d', now)).toBeNull()
  })
})
