import { describe, expect, it } from 'vitest'
import { discardBriefly, lingerBytesFor, readCapped } from './read-capped.ts'

/** A stream of `chunks` chunks of `size` bytes that counts what was pulled from it. */
function counted(chunks: number, size: number) {
  let pulled = 0
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= chunks * size) return controller.close()
      pulled += size
      controller.enqueue(new Uint8Array(size))
    },
  })
  return { stream, pulled: () => pulled }
}

describe('lingerBytesFor', () => {
  it('drops a declared body up to 8 MiB before cancelling, and nothing for a chunked or larger one', () => {
    expect(lingerBytesFor('5000000')).toBe(5_000_000)
    expect(lingerBytesFor(String(8 * 1024 * 1024))).toBe(8 * 1024 * 1024)
    expect(lingerBytesFor(String(8 * 1024 * 1024 + 1))).toBe(0)
    expect(lingerBytesFor(undefined)).toBe(0)
    expect(lingerBytesFor('nonsense')).toBe(0)
  })
})

describe('readCapped past its cap', () => {
  it('cancels at once without a linger, and pulls no more than the linger with one', async () => {
    const plain = counted(100, 1024)
    expect(await readCapped(plain.stream, 4096)).toEqual({ ok: false, reason: 'too_large' })
    expect(plain.pulled()).toBeLessThanOrEqual(6 * 1024)
    const lingering = counted(100, 1024)
    expect(await readCapped(lingering.stream, 4096, 10 * 1024)).toEqual({ ok: false, reason: 'too_large' })
    expect(lingering.pulled()).toBeGreaterThanOrEqual(14 * 1024)
    expect(lingering.pulled()).toBeLessThanOrEqual(17 * 1024)
  })

  it('discardBriefly stops at the end of a short body', async () => {
    const short = counted(3, 1024)
    await discardBriefly(short.stream.getReader(), 1024 * 1024)
    expect(short.pulled()).toBe(3 * 1024)
  })
})
