import { describe, expect, it } from 'vitest'
import { formatDuration, rateLimitHeaders, retryAfterHeaders } from './rate-limit-headers.ts'

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [12, '12ms'],
    [999.6, '1s'],
    [1000, '1s'],
    [17_172, '17.172s'],
    [59_500, '59.5s'],
    [360_000, '6m0s'],
    [3_723_500, '1h2m3.5s'],
  ])('%d ms -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })
})

describe('rateLimitHeaders', () => {
  it("sends OpenAI's six headers for limited dimensions only", () => {
    expect(rateLimitHeaders({ requests: { limit: 60, remaining: 59, resetMs: 1000 }, tokens: { limit: 1000, remaining: 10, resetMs: 360_000 } })).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '10',
      'x-ratelimit-reset-tokens': '6m0s',
    })
    expect(rateLimitHeaders({ requests: null, tokens: null })).toEqual({})
  })
})

describe('retryAfterHeaders', () => {
  it('rounds Retry-After up to whole seconds and gives the exact milliseconds too', () => {
    expect(retryAfterHeaders(1)).toEqual({ 'retry-after': '1', 'retry-after-ms': '1' })
    expect(retryAfterHeaders(40_000.2)).toEqual({ 'retry-after': '41', 'retry-after-ms': '40001' })
  })
})
