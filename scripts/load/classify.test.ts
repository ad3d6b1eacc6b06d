import { describe, expect, it } from 'vitest'
import { disposition, refusalLayer } from './classify.ts'
import { expectLedger, judgeLedger } from './ledger-check.ts'
import type { LoadTarget } from './mix.ts'
import { blankOutcome, type Outcome } from './send-request.ts'

const outcome = (status: number | null, errorCode: string | null = null, usage: Outcome['usage'] = null, tenant = 0): Outcome => ({
  ...blankOutcome(0, { kind: 'chat', stream: false, tenant, key: 0, model: 'm' }, 0),
  sentAt: 0,
  status,
  errorCode,
  usage,
})

describe('refusalLayer', () => {
  it('places each admission refusal by its code, and the shared rate_limit_exceeded by its message', () => {
    expect(refusalLayer('rate_limit_exceeded', 'Rate limit reached for requests per minute (RPM) on this API key: Limit 6, Used 6, Requested 1.')).toBe(
      'key_rpm',
    )
    expect(refusalLayer('rate_limit_exceeded', 'Rate limit reached for requests per minute (RPM): Limit 12, Used 12, Requested 1.')).toBe('rpm')
    expect(refusalLayer('rate_limit_exceeded', 'Rate limit reached for tokens per minute (TPM): Limit 100')).toBe('tpm')
    expect(refusalLayer('concurrency_limit_exceeded', 'Too many requests in flight')).toBe('concurrency')
    expect(refusalLayer('insufficient_quota', '')).toBe('budget')
    expect(refusalLayer('rate_limit_exceeded', 'something new')).toBe('unknown')
  })
})

describe('disposition', () => {
  it('counts 200s and node failures as reached, refusals as not, and what the client cannot place as unknown', () => {
    expect(disposition(outcome(200))).toBe('reached')
    expect(disposition(outcome(502, 'upstream_error'))).toBe('reached')
    expect(disposition(outcome(429, 'rate_limit_exceeded'))).toBe('refused')
    expect(disposition(outcome(503, 'no_available_node'))).toBe('unrouted')
    expect(disposition(outcome(null, 'ECONNRESET'))).toBe('unknown')
    expect(disposition({ ...outcome(null), sentAt: null })).toBe('dropped')
  })
})

describe('the ledger comparison', () => {
  const target: LoadTarget = { tenants: [{ id: 't0', name: 't0', keys: [] }], models: ['m'], embeddingModels: [] }
  const zero = { requests: 0, prompt_tokens: 0, completion_tokens: 0 }
  const outcomes = [
    outcome(200, null, { promptTokens: 5, completionTokens: 4 }),
    outcome(200, null, { promptTokens: 3, completionTokens: 0 }),
    outcome(429, 'rate_limit_exceeded'),
  ]

  it('passes when the ledger holds each reached request once, with the tokens the client saw', () => {
    const expected = expectLedger(outcomes, 1)
    expect(expected).toEqual([{ min: 2, max: 2, tokens: 12 }])
    expect(judgeLedger(target, expected, [zero], [{ requests: 2, prompt_tokens: 8, completion_tokens: 4 }], 0)).toMatchObject({ ok: true, exact: true })
  })

  it('fails on a missing or doubled request, and on tokens that differ', () => {
    const expected = expectLedger(outcomes, 1)
    expect(judgeLedger(target, expected, [zero], [{ requests: 1, prompt_tokens: 5, completion_tokens: 4 }], 0).ok).toBe(false)
    expect(judgeLedger(target, expected, [zero], [{ requests: 3, prompt_tokens: 8, completion_tokens: 4 }], 0).ok).toBe(false)
    expect(judgeLedger(target, expected, [zero], [{ requests: 2, prompt_tokens: 8, completion_tokens: 5 }], 0).ok).toBe(false)
  })

  it('accepts a range when some responses cannot be placed, and subtracts the baseline of reused tenants', () => {
    const expected = expectLedger([...outcomes, outcome(null, 'ECONNRESET')], 1)
    expect(expected).toEqual([{ min: 2, max: 3, tokens: 12 }])
    const before = { requests: 40, prompt_tokens: 100, completion_tokens: 100 }
    const result = judgeLedger(target, expected, [before], [{ requests: 43, prompt_tokens: 110, completion_tokens: 105 }], 0)
    expect(result).toMatchObject({ ok: true, exact: false, tenants: [{ counted: 3 }] })
  })
})
