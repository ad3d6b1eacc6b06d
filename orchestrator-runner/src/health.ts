// The runner's liveness for its supervisor (compose healthcheck, Kubernetes probe): GET /healthz answers 200
// while the poll loop is working (a pull succeeded recently, or every job slot is busy so it rightly does not
// pull) and 503 otherwise (pulls keep failing: bad token, Cloudflare unreachable, a stuck loop). main.ts starts it
// on HEALTH_PORT; the consumer reports each pull and whether its slots are full.
import { createServer, type Server } from 'node:http'

export type RunnerHealth = {
  pulled(ok: boolean): void
  saturated(isFull: boolean): void
  status(): { ok: boolean; lastPullOkAt: number; failedPullsInRow: number; isSaturated: boolean }
}

/** `staleMs`: how long without a successful pull (slots not full) before the runner reports unhealthy. */
export function createRunnerHealth(options: { staleMs: number; now?: () => number }): RunnerHealth {
  const now = options.now ?? Date.now
  let lastPullOkAt = now() // the start counts as a success: a fresh runner gets staleMs to make its first pull
  let failedPullsInRow = 0
  let isSaturated = false
  return {
    pulled(ok) {
      if (ok) {
        lastPullOkAt = now()
        failedPullsInRow = 0
      } else failedPullsInRow++
    },
    saturated(isFull) {
      if (isSaturated && !isFull) lastPullOkAt = now() // leaving a long busy stretch is not staleness
      isSaturated = isFull
    },
    status() {
      return { ok: isSaturated || now() - lastPullOkAt <= options.staleMs, lastPullOkAt, failedPullsInRow, isSaturated }
    },
  }
}

export function startHealthServer(port: number, health: RunnerHealth): Server {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/healthz' && req.url !== '/health')) {
      res.writeHead(404).end()
      return
    }
    const status = health.status()
    res.writeHead(status.ok ? 200 : 503, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        status: status.ok ? 'ok' : 'unhealthy',
        last_pull_ok_at: new Date(status.lastPullOkAt).toISOString(),
        failed_pulls_in_row: status.failedPullsInRow,
        saturated: status.isSaturated,
      }),
    )
  })
  return server.listen(port)
}
