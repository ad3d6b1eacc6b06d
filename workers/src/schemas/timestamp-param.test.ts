import { describe, expect, it } from 'vitest'
import { parseTimestamp, timestampParam } from './timestamp-param.ts'

const JAN_1_2025 = Date.UTC(2025, 0, 1)

describe('parseTimestamp', () => {
  it('reads milliseconds, and a bare number below 1e11 as Unix seconds', () => {
    expect(parseTimestamp(String(JAN_1_2025))).toBe(JAN_1_2025)
    expect(parseTimestamp(String(JAN_1_2025 / 1000))).toBe(JAN_1_2025)
    expect(parseTimestamp('1735689600.5')).toBe(JAN_1_2025 + 500)
    expect(parseTimestamp('99999999999')).toBe(99_999_999_999_000) // just below 1e11: seconds
    expect(parseTimestamp('100000000000')).toBe(100_000_000_000) // 1e11: milliseconds
    expect(parseTimestamp('0')).toBe(0)
  })
  it('reads ISO 8601 dates and times, UTC when no zone is given, offsets included', () => {
    expect(parseTimestamp('2025-01-01T00:00:00Z')).toBe(JAN_1_2025)
    expect(parseTimestamp('2025-01-01')).toBe(JAN_1_2025)
    expect(parseTimestamp('2025-01-01T00:00')).toBe(JAN_1_2025)
    expect(parseTimestamp('2025-01-01T00:00:00.250Z')).toBe(JAN_1_2025 + 250)
    expect(parseTimestamp('2025-01-01T02:00:00+02:00')).toBe(JAN_1_2025)
    expect(parseTimestamp('2025-01-01T02:00:00 02:00')).toBe(JAN_1_2025) // a '+' decoded to a space by the query string
    expect(parseTimestamp('2024-12-31T19:00:00-0500')).toBe(JAN_1_2025)
  })
  it('refuses anything else', () => {
    for (const bad of ['yesterday', '2025-02-30', '2025-13-01', '2025-01-01T25:00:00Z', '1e12', '-5', '0x10', 'Infinity', '2025/01/01', '']) {
      expect(parseTimestamp(bad), bad).toBeNull()
    }
  })
})

describe('timestampParam', () => {
  it('treats an empty value as absent and names the problem otherwise', () => {
    expect(timestampParam.parse('')).toBeUndefined()
    expect(timestampParam.parse(undefined)).toBeUndefined()
    expect(timestampParam.safeParse('soon').error?.issues[0]?.message).toMatch(/ISO 8601/)
  })
})
