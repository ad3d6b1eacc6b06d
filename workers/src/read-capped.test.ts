import { describe, expect, it } from 'vitest'
import { discardBriefly, lingerBytesFor, readCapped, readCappedMessageText } from './read-capped.ts'

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

describe('readCappedMessageText', () => {
  it('reads a body whose Content-Length is within the cap whole, and counts a chunked one to its cap', async () => {
    const declared = new Response('hello', { headers: { 'content-length': '5' } })
    expect(await readCappedMessageText(declared, 4096)).toEqual({ ok: true, text: 'hello' })
    const chunked = counted(100, 1024)
    expect(await readCappedMessageText(new Response(chunked.stream), 4096)).toEqual({ ok: false, reason: 'too_large' })
    expect(chunked.pulled()).toBeLessThanOrEqual(8 * 1024)
    expect(await readCappedMessageText(new Response(counted(2, 1024).stream), 4096)).toEqual({ ok: true, text: '\0'.repeat(2048) })
  })

  it('counts a body declared past the cap, or with a Content-Encoding (its decoded length is not the declared one)', async () => {
    const large = counted(100, 1024)
    expect(await readCappedMessageText(new Response(large.stream, { headers: { 'content-length': String(100 * 1024) } }), 4096)).toEqual({
      ok: false,
      reason: 'too_large',
    })
    expect(large.pulled()).toBeLessThanOrEqual(8 * 1024)
    const encoded = counted(100, 1024)
    const gzip = new Response(encoded.stream, { headers: { 'content-length': '100', 'content-encoding': 'gzip' } })
    expect(await readCappedMessageText(gzip, 4096)).toEqual({ ok: false, reason: 'too_large' })
    expect(encoded.pulled()).toBeLessThanOrEqual(8 * 1024)
  })
})
