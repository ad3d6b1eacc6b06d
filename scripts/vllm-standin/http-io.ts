// Small node:http helpers shared by the handlers: read a body, send JSON, wait without throwing on abort.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { InFlight } from './in-flight.ts'

/** The request body as text, or null when the client aborted the upload. */
export async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = []
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer) // no setEncoding, so chunks are Buffers
  } catch {
    return null
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The parsed body, the raw text when it is not JSON, or undefined when empty. */
export function parseBody(text: string): { isJson: boolean; value: unknown } {
  if (text === '') return { isJson: false, value: undefined }
  try {
    return { isJson: true, value: JSON.parse(text) }
  } catch {
    return { isJson: false, value: text }
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function sendJson(res: ServerResponse, status: number, json: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) })
  res.end(json)
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (the client went away). */
export function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Time the client gets to read the frames already sent before the reset reaches it. */
const RESET_GRACE_MS = 25

/**
 * Resets the TCP connection (RST, not a clean FIN), like a crashed vLLM process or a dropped link. It waits
 * until everything already written has left the socket, then a little: an RST that lands while the frames
 * are still unread in the client's kernel buffer can discard them or read as a plain end of stream (Linux).
 */
export function resetConnection(res: ServerResponse, inFlight: InFlight): void {
  inFlight.markServerReset()
  const socket = res.socket
  if (!socket) return void res.destroy()
  const reset = () =>
    setTimeout(() => {
      if (!socket.destroyed) socket.resetAndDestroy()
    }, RESET_GRACE_MS)
  // http may still hold the frames corked until the next tick; after setImmediate they are in the socket.
  setImmediate(() => (socket.writableLength === 0 ? reset() : socket.once('drain', reset)))
}

const PIECE_BYTES = 64 * 1024

/**
 * Writes `head`, then `fillBytes` of `fill` in 64 KiB pieces, each only once the socket has drained the last (so
 * a reader that stops reading stops the writing), then `tail`, and ends. Stops quietly when the client leaves.
 */
export async function writeLazily(res: ServerResponse, head: string, fillBytes: number, fill: string, tail: string | null): Promise<void> {
  const piece = fill.repeat(Math.ceil(PIECE_BYTES / fill.length)).slice(0, PIECE_BYTES)
  if (!res.write(head)) await drained(res)
  for (let sent = 0; sent < fillBytes && !res.destroyed; sent += PIECE_BYTES) {
    if (!res.write(fillBytes - sent >= PIECE_BYTES ? piece : piece.slice(0, fillBytes - sent)) && !(await drained(res))) return
  }
  if (!res.destroyed) res.end(tail ?? undefined)
}

/** True once `res` can take more, false when it closed first. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      resolve(ok)
    }
    const onDrain = () => done(true)
    const onClose = () => done(false)
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}
