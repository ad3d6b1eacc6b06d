// GET /metrics: Prometheus text exposition, behind the METRICS_TOKEN bearer token (it is on the public edge).
// Unset token: 401 for everyone, like a wrong one, so nothing tells a prober whether metrics exist.
import { Hono } from 'hono'
import { EXPOSITION_CONTENT_TYPE } from '../../../durable-objects/metrics-aggregator/contract.ts'
import type { AppEnv } from '../env.ts'
import { bearerAuth } from '../middleware/bearer-auth.ts'
import { scrapeMetrics } from '../services/metrics/scrape-metrics.ts'

export const metrics = new Hono<AppEnv>().get('/metrics', bearerAuth('METRICS_TOKEN'), async (c) => {
  const config = c.get('config')
  const text = await scrapeMetrics(c.env, config.METRICS_SHARDS, config.METRICS_FLUSH_INTERVAL_MS)
  return c.body(text, 200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'cache-control': 'no-store' })
})
