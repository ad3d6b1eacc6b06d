import { describe, expect, it } from 'vitest'
import { SseEventSplitter } from './sse-events.ts'

function drain(splitter: SseEventSplitter, text: string): string[] {
  splitter.push(text)
  const events: string[] = []
  for (let e = splitter.next(); e !== null; e = splitter.next()) events.push(e)
  return events
}

describe('SseEventSplitter', () => {
  it('splits events within and across chunks, a blank line split between two chunks included', () => {
    const splitter = new SseEventSplitter()
    expect(drain(splitter, 'data: a\n\ndata: b\n\nda')).toEqual(['data: a\n\n', 'data: b\n\n'])
    expect(drain(splitter, 'ta: c\n')).toEqual([])
    expect(drain(splitter, '\ndata: d\n')).toEqual(['data: c\n\n'])
    expect(drain(splitter, 'x: 1\n')).toEqual([])
    expect(drain(splitter, '\n')).toEqual(['data: d\nx: 1\n\n'])
    expect(drain(splitter, '\n')).toEqual([]) // a lone blank line is not the end of an event still empty
  })

  it('examines each character once: an unterminated 16 MB line costs 16 MB of scanning, not its square', () => {
    const splitter = new SseEventSplitter(32 * 1024 * 1024)
    const piece = 'x'.repeat(16 * 1024)
    let pushed = 0
    for (let i = 0; i < 1024; i++) {
      expect(drain(splitter, i === 0 ? `data: ${piece}` : piece)).toEqual([])
      pushed += (i === 0 ? 6 : 0) + piece.length
    }
    expect(splitter.scannedChars).toBe(pushed)
    expect(drain(splitter, '\n\n')).toHaveLength(1)
    expect(splitter.scannedChars).toBeLessThanOrEqual(pushed + 2)
  })

  it('stops once the event waiting for its end passes the cap, and also refuses a complete event beyond it', () => {
    const splitter = new SseEventSplitter(100)
    expect(drain(splitter, `data: ${'x'.repeat(90)}`)).toEqual([])
    expect(splitter.isOverflowed).toBe(false)
    expect(drain(splitter, 'x'.repeat(10))).toEqual([])
    expect(splitter.isOverflowed).toBe(true)
    expect(drain(splitter, '\n\ndata: next\n\n')).toEqual([]) // nothing more once overflowed

    const whole = new SseEventSplitter(100)
    expect(drain(whole, `data: ok\n\ndata: ${'y'.repeat(200)}\n\n`)).toEqual(['data: ok\n\n'])
    expect(whole.isOverflowed).toBe(true)
  })
})
