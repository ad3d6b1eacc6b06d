// The time one request spends waiting on nodes (each attempt until its first byte, then the stream), so the
// gateway's own overhead is the rest. Created by middleware/observe-request.ts, fed by forward-inference.ts.

export type RequestTiming = {
  /** Milliseconds spent waiting on nodes so far. */
  upstreamMs: number
  /** Resolves when a streamed response ends (the request is measured until then); null for other responses. */
  streamEnded: Promise<unknown> | null
  /** Times one attempt at a node, until its result (first byte for a stream). */
  upstream<T>(attempt: Promise<T>): Promise<T>
  /** The relayed stream: counted as waiting on the node until `done`. */
  streamUntil(done: Promise<unknown>): void
}

export function newRequestTiming(): RequestTiming {
  const timing: RequestTiming = {
    upstreamMs: 0,
    streamEnded: null,
    async upstream(attempt) {
      const start = performance.now()
      try {
        return await attempt
      } finally {
        timing.upstreamMs += performance.now() - start
      }
    },
    streamUntil(done) {
      const start = performance.now()
      timing.streamEnded = done.finally(() => {
        timing.upstreamMs += performance.now() - start
      })
    },
  }
  return timing
}
