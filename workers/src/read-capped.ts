// The one bounded reader of a byte stream: request bodies (routes/read-body.ts, the Stripe webhook), a node's
// non-streamed and error answers (proxy/upstream-attempt.ts) and the NodeMonitor's /metrics scrape. It counts
// what arrives and stops at the cap: a chunked body with no Content-Length is never buffered past it.
// Production isolates have 128 MB shared by every request on them (platform-facts.md §10), so nothing is read whole.

export type CappedRead = { ok: true; bytes: Uint8Array } | { ok: false; reason: 'too_large' }

/**
 * Reads `body` to its end unless more than `maxBytes` arrive; then cancels it (nothing more is pulled from the
 * sender) and answers `too_large`. A null body reads as empty. Stream errors are thrown as they are.
 */
export async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<CappedRead> {
  if (!body) return { ok: true, bytes: new Uint8Array(0) }
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      // Not awaited: a sender that never answers the cancel must not hold the 413 back.
      reader.cancel('body exceeds its size limit').catch(() => {})
      return { ok: false, reason: 'too_large' }
    }
    chunks.push(value)
  }
  if (chunks.length === 1) return { ok: true, bytes: chunks[0] as Uint8Array }
  const bytes = new Uint8Array(total)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return { ok: true, bytes }
}

const decoder = new TextDecoder()

/** readCapped, decoded as UTF-8 (malformed sequences become U+FFFD, as Response.text() does). */
export async function readCappedText(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<{ ok: true; text: string } | { ok: false; reason: 'too_large' }> {
  const read = await readCapped(body, maxBytes)
  return read.ok ? { ok: true, text: decoder.decode(read.bytes) } : read
}
