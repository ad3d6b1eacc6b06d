// The one bounded reader of a byte stream: request bodies (routes/read-body.ts, the Stripe webhook), a node's
// non-streamed and error answers (proxy/upstream-attempt.ts) and the NodeMonitor's /metrics scrape. It counts
// what arrives and stops at the cap: a chunked body with no Content-Length is never buffered past it.
// Production isolates have 128 MB shared by every request on them (platform-facts.md §10), so nothing is read whole.

export type CappedRead = { ok: true; bytes: Uint8Array } | { ok: false; reason: 'too_large' }

/**
 * A request body refused for its size, or never read, is read and dropped before it is cancelled when its declared
 * Content-Length is at most this, as a server's lingering close does: the client (the openai SDK always declares
 * the length) then reads its 413 instead of a connection reset (a reset can destroy an answer already sent: TCP drops
 * unread data; the SDK reports a connection error and retries). A chunked body, or a declared one larger than this,
 * is cancelled at once: a 200 MB sender is cut off (test/e2e/bounded-memory.test.ts). Nothing dropped is kept.
 */
const LINGER_MAX_BYTES = 8 * 1024 * 1024

/** How much of a request body to read and drop before cancelling it: its declared length, when small enough. */
export function lingerBytesFor(contentLength: string | null | undefined): number {
  const declared = Number(contentLength ?? Number.NaN)
  return Number.isSafeInteger(declared) && declared > 0 && declared <= LINGER_MAX_BYTES ? declared : 0
}
const LINGER_MS = 2_000

/** Reads and drops up to `lingerBytes` more of a stream, for at most LINGER_MS; never throws. */
export async function discardBriefly(reader: ReadableStreamDefaultReader<Uint8Array>, lingerBytes: number): Promise<void> {
  if (lingerBytes <= 0) return
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), LINGER_MS)
  })
  try {
    for (let dropped = 0; dropped < lingerBytes; ) {
      const next = await Promise.race([reader.read(), timeout])
      if (next === 'timeout' || next.done) return
      dropped += next.value.byteLength
    }
  } catch {
    // the sender went away: nothing left to drop
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Reads `body` to its end unless more than `maxBytes` arrive; then drops up to `lingerBytes` more (request bodies,
 * see lingerBytesFor), cancels it (nothing more is pulled from the sender) and answers `too_large`. A null
 * body reads as empty. Stream errors are thrown as they are.
 */
export async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number, lingerBytes = 0): Promise<CappedRead> {
  if (!body) return { ok: true, bytes: new Uint8Array(0) }
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await discardBriefly(reader, lingerBytes)
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
  lingerBytes = 0,
): Promise<{ ok: true; text: string } | { ok: false; reason: 'too_large' }> {
  const read = await readCapped(body, maxBytes, lingerBytes)
  return read.ok ? { ok: true, text: decoder.decode(read.bytes) } : read
}

/**
 * The length of a message's body as its HTTP framing fixes it: its Content-Length, when it has one and no
 * Content-Encoding the runtime would expand (fetch() decompresses gzip/br bodies, so their length is not the
 * declared one). Null when the body's length is known only once it has been read (chunked).
 */
function framedLengthOf(headers: Headers): number | null {
  const encoding = headers.get('content-encoding')
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') return null
  const declared = Number(headers.get('content-length') ?? Number.NaN)
  return Number.isSafeInteger(declared) && declared >= 0 ? declared : null
}

/**
 * readCappedText of a request's or response's body, read by the runtime in one call when its framed length
 * (Content-Length, see framedLengthOf) is within the cap: HTTP framing ends the body there, so it cannot pass
 * the cap. In the gateway isolate's CPU profile (`npm run bench:profile`, JSON, 2026-12-05, same load) the
 * reads of a request's body and its node's answer took 233-271 µs of self time per request through readCapped's
 * JS loop (10-13% of the request), 137-157 µs with this (5-6%). A chunked body, or one declared larger than the cap, is counted by readCapped.
 */
export async function readCappedMessageText(
  message: Request | Response,
  maxBytes: number,
  lingerBytes = 0,
): Promise<{ ok: true; text: string } | { ok: false; reason: 'too_large' }> {
  const framed = framedLengthOf(message.headers)
  if (framed !== null && framed <= maxBytes && message.body !== null) return { ok: true, text: await message.text() }
  return readCappedText(message.body, maxBytes, lingerBytes)
}
