// Splits a node's SSE text (line ends already normalised to "\n") into events ending in a blank line, for the
// relay (sse-relay.ts). Each character is examined once: the text of an event still incomplete is kept as
// pieces, not rescanned or re-concatenated per chunk, and it may not grow past a cap (a node sending one endless
// line would otherwise hold the gateway's memory and CPU).

/** Default cap of one event still waiting for its end: vLLM's largest events (a usage chunk, a tool call delta) are a few KB. */
export const MAX_SSE_EVENT_CHARS = 1024 * 1024

export class SseEventSplitter {
  /** The incomplete event's text from earlier chunks; no "\n\n" inside them or between them. */
  private pieces: string[] = []
  private pendingChars = 0
  private text = ''
  private at = 0
  private overflowed = false
  /** Characters examined looking for event ends: linear in the characters pushed (a test hook, one add per scan). */
  scannedChars = 0

  private readonly maxEventChars: number

  constructor(maxEventChars: number = MAX_SSE_EVENT_CHARS) {
    this.maxEventChars = maxEventChars
  }

  /** The next chunk of text; call `next` until it answers null before pushing another. */
  push(text: string): void {
    this.text = text
    this.at = 0
  }

  /** True once an event (complete or still waiting for its end) grew past the cap: the stream cannot go on. */
  get isOverflowed(): boolean {
    return this.overflowed
  }

  /** The next complete event, or null when the pushed text holds no more (or the pending event passed the cap). */
  next(): string | null {
    if (this.overflowed) return null
    const { text, at } = this
    let end: number
    if (at === 0 && this.pendingChars > 0 && text.charCodeAt(0) === 10 && (this.pieces.at(-1) as string).endsWith('\n')) {
      end = 1 // the blank line straddles the chunks: "…\n" then "\n…"
      this.scannedChars += 1
    } else {
      const found = text.indexOf('\n\n', at)
      end = found === -1 ? -1 : found + 2
      this.scannedChars += (found === -1 ? text.length : end) - at
    }
    if (end === -1) {
      if (at < text.length) this.keep(at === 0 ? text : text.slice(at))
      this.text = ''
      this.at = 0
      return null
    }
    this.at = end
    const piece = at === 0 && end === text.length ? text : text.slice(at, end)
    if (this.pendingChars === 0) return piece.length > this.maxEventChars ? this.overflow() : piece
    if (this.pendingChars + piece.length > this.maxEventChars) return this.overflow()
    this.pieces.push(piece)
    const event = this.pieces.join('')
    this.pieces = []
    this.pendingChars = 0
    return event
  }

  private keep(rest: string): void {
    this.pieces.push(rest)
    this.pendingChars += rest.length
    if (this.pendingChars > this.maxEventChars) this.overflow()
  }

  private overflow(): null {
    this.overflowed = true
    this.pieces = []
    this.pendingChars = 0
    this.text = ''
    return null
  }
}
