// Bookkeeping for one admitted generation/embedding request: the in-flight count, and telling a client
// abort (counted, and stops generation) apart from normal completion or a reset the stand-in caused.

import type { ServerResponse } from 'node:http'
import type { Stats } from './stats.ts'

export type InFlight = {
  /** Aborts when the client closes the connection before the response is complete. */
  signal: AbortSignal
  /** Call before the stand-in drops the connection itself, so it is not counted as a client abort. */
  markServerReset(): void
}

/** `isShuttingDown` lets close() drop connections without booking them as client aborts. */
export function trackInFlight(res: ServerResponse, stats: Stats, isShuttingDown: () => boolean): InFlight {
  const controller = new AbortController()
  let isServerReset = false
  stats.inFlight++
  const onClose = () => {
    stats.inFlight--
    // writableFinished: every byte of the response was handed to the OS before the socket closed.
    if (res.writableFinished || isServerReset || isShuttingDown()) return
    stats.aborted++
    stats.finished.abort++ // vLLM books client disconnects as finished_reason="abort"
    controller.abort()
  }
  // The client may have left while its body was still being read; 'close' has then already fired.
  if (res.socket === null || res.socket.destroyed) queueMicrotask(onClose)
  else res.once('close', onClose)
  return { signal: controller.signal, markServerReset: () => (isServerReset = true) }
}
