import { describe, expect, it } from 'vitest'
import { arrivalTimes, seededRandom } from './schedule.ts'

describe('arrivalTimes', () => {
  it('spaces fixed arrivals at i / rate from the start, all inside the duration', () => {
    const t = arrivalTimes(4, 1_000, 'fixed', seededRandom(1))
    expect(Array.from(t)).toEqual([0, 250, 500, 750])
    expect(arrivalTimes(1_000, 600_000, 'fixed', seededRandom(1))).toHaveLength(600_000)
  })

  it('draws Poisson arrivals from the seed: same seed same times, ascending, mean gap 1 / rate', () => {
    const a = arrivalTimes(100, 100_000, 'poisson', seededRandom(7))
    expect(Array.from(a)).toEqual(Array.from(arrivalTimes(100, 100_000, 'poisson', seededRandom(7))))
    expect(Array.from(a)).not.toEqual(Array.from(arrivalTimes(100, 100_000, 'poisson', seededRandom(8))).slice(0, a.length))
    expect(a.every((t, i) => t < 100_000 && (i === 0 || t >= a[i - 1]!))).toBe(true)
    expect(a.length).toBeGreaterThan(9_500) // 10,000 expected; the seed makes this exact, the bound says what it means
    expect(a.length).toBeLessThan(10_500)
  })

  it('schedules nothing for a zero rate or duration', () => {
    expect(arrivalTimes(0, 1_000, 'fixed', seededRandom(1))).toHaveLength(0)
    expect(arrivalTimes(10, 0, 'poisson', seededRandom(1))).toHaveLength(0)
  })
})
