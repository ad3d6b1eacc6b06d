import { describe, expect, it } from 'vitest'
import type { Db } from '../../db/client.ts'
import { forgetPrices, PRICE_CACHE_TTL_MS, PRICE_MIN_LEAD_MS, priceVersions, versionAt } from './price-book.ts'

const v = (effectiveFrom: number, input: number) => ({ effectiveFrom, inputMicroUsdPerMTok: input, outputMicroUsdPerMTok: 0, cachedInputMicroUsdPerMTok: null })

/** A Db whose price read answers `rows` until `fail` is set, then throws (D1 unavailable). */
function fakeDb(rows: ReturnType<typeof v>[]) {
  const state = { fail: false, reads: 0 }
  const chain = {
    from: () => chain,
    where: () => chain,
    orderBy: () => chain,
    all: async () => {
      state.reads++
      if (state.fail) throw new Error('D1_ERROR: unavailable')
      return rows.map((r) => ({ model: 'm', createdAt: 0, ...r }))
    },
  }
  return { db: { select: () => chain } as unknown as Db, state }
}

describe('versionAt', () => {
  it('picks the latest version in force at the time, none before the first', () => {
    const versions = [v(100, 1), v(200, 2)]
    expect(versionAt(versions, 99)).toBeNull()
    expect(versionAt(versions, 100)?.inputMicroUsdPerMTok).toBe(1)
    expect(versionAt(versions, 199)?.inputMicroUsdPerMTok).toBe(1)
    expect(versionAt(versions, 200)?.inputMicroUsdPerMTok).toBe(2)
  })
})

describe('priceVersions cache', () => {
  it('reads D1 once per TTL, and rides out a D1 outage only while its copy is younger than the minimum lead', async () => {
    forgetPrices()
    const { db, state } = fakeDb([v(0, 7)])
    const t0 = 1_000_000
    await priceVersions(db, 'm', t0)
    await priceVersions(db, 'm', t0 + PRICE_CACHE_TTL_MS - 1)
    expect(state.reads).toBe(1)
    state.fail = true
    expect(await priceVersions(db, 'm', t0 + PRICE_MIN_LEAD_MS - 1)).toEqual([v(0, 7)])
    await expect(priceVersions(db, 'm', t0 + PRICE_MIN_LEAD_MS)).rejects.toMatchObject({ kind: 'dependency_unavailable' })
  })
})
