// Measures every request: one JSON access-log line, the HTTP metrics (route template, never the raw path),
// the `server-timing` header (gateway overhead vs time waiting on nodes), and the flush of this isolate's
// metric deltas once the request (or its stream) has ended. Mounted right after requestId() and config().
import { createMiddleware } from 'hono/factory'
import { matchedRoutes } from 'hono/route'
import type { Context } from 'hono'
import { FAMILIES } from '../../../durable-objects/metrics-aggregator/contract.ts'
import type { AppEnv } from '../env.ts'
import { log, withRequestId } from '../log.ts'
import { addCounter, gaugeHeartbeatMs, observeHistogram, scheduleFlush, countRequestsInFlight } from '../services/metrics/metrics-buffer.ts'
import { newRequestTiming } from '../services/metrics/request-timing.ts'

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/** The template of the handler that matched (`/admin/tenants/:id`), or `unmatched`: never the raw path. */
export function routeTemplate(c: Context<AppEnv>): string {
  const handlers = matchedRoutes(c).filter((r) => r.method !== 'ALL')
  return handlers.at(-1)?.path ?? 'unmatched'
}

const round = (ms: number) => Math.round(ms * 1000) / 1000

export const observeRequest = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const timing = newRequestTiming()
    c.set('timing', timing)
    const config = c.get('config')
    const flushOptions = {
      env: c.env,
      shards: config.METRICS_SHARDS,
      intervalMs: config.METRICS_FLUSH_INTERVAL_MS,
      waitUntil: (p: Promise<unknown>) => c.executionCtx.waitUntil(p),
    }
    countRequestsInFlight(1)
    // A long request (or stream) re-reports the isolate's in-flight count, so the shard's copy never ages out
    // while the isolate lives; several requests beating at once make one report (scheduleFlush checks it is due).
    const heartbeat = setInterval(() => scheduleFlush(flushOptions), gaugeHeartbeatMs(config.METRICS_FLUSH_INTERVAL_MS))
    await withRequestId(c.get('requestId'), next)
    const route = routeTemplate(c)
    const method = METHODS.has(c.req.method) ? c.req.method : 'OTHER'
    const status = c.res.status
    const atHeaders = performance.now() - c.get('startedAt')
    c.res.headers.set('server-timing', `gateway;dur=${round(atHeaders - timing.upstreamMs)}, upstream;dur=${round(timing.upstreamMs)}`)
    const finish = () => {
      const durationMs = performance.now() - c.get('startedAt')
      const overheadMs = Math.max(0, durationMs - timing.upstreamMs)
      addCounter(FAMILIES.httpRequests.name, { method, route, status: String(status) })
      observeHistogram(FAMILIES.httpDuration, { method, route }, durationMs / 1000)
      observeHistogram(FAMILIES.overhead, { route }, overheadMs / 1000)
      clearInterval(heartbeat)
      countRequestsInFlight(-1)
      log.info('request', {
        request_id: c.get('requestId'),
        tenant_id: c.get('identity')?.tenantId ?? null,
        method,
        route,
        status,
        duration_ms: round(durationMs),
        upstream_ms: round(timing.upstreamMs),
        overhead_ms: round(overheadMs),
      })
      scheduleFlush(flushOptions)
    }
    if (timing.streamEnded) c.executionCtx.waitUntil(timing.streamEnded.then(finish, finish))
    else finish()
  })
