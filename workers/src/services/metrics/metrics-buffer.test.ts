// The isolate's buffer: a failed flush keeps its batch (same id) for the next one, and the shard applies a
// batch id once, so a retry after an ambiguous failure never counts twice.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { MetricsBatch } from '../../../../durable-objects/metrics-aggregator/metrics-aggregator.ts'
import { FAMILIES, seriesKey } from '../../../../durable-objects/metrics-aggregator/metric-registry.ts'
import { addCounter, flushMetrics, scheduleFlush, countRequestsInFlight } from './metrics-buffer.ts'

const KEY = seriesKey('cic_rate_limited_total', { layer: 'buffer-test' })

describe('metrics buffer', () => {
  it('keeps a batch whose flush failed and resends it with the same id, with later deltas in a new batch', async () => {
    const sent: MetricsBatch[] = []
    let failNext = true
    const fake = {
      METRICS_AGGREGATOR: {
        getByName: () => ({
          add: async (b: MetricsBatch) => {
            sent.push(b)
            if (failNext) {
              failNext = false
              throw new Error('shard unavailable')
            }
            return true
          },
        }),
      },
    } as unknown as Env
    addCounter('cic_rate_limited_total', { layer: 'buffer-test' }, 2)
    await expect(flushMetrics(fake, 1)).rejects.toThrow('shard unavailable')
    addCounter('cic_rate_limited_total', { layer: 'buffer-test' }, 3)
    await flushMetrics(fake, 1)
    expect(sent.map((b) => b.deltas.find(([k]) => k === KEY)?.[1])).toEqual([2, 2, 3])
    expect(sent[1]?.id).toBe(sent[0]?.id)
    expect(sent[2]?.id).not.toBe(sent[0]?.id)
    await flushMetrics(fake, 1)
    expect(sent).toHaveLength(3) // nothing left
  })

  it('flushes at most once per interval: requests ending within it share one delayed flush', async () => {
    const sent: MetricsBatch[] = []
    const fake = {
      METRICS_AGGREGATOR: {
        getByName: () => ({
          add: async (b: MetricsBatch) => {
            sent.push(b)
            return true
          },
        }),
      },
    } as unknown as Env
    await flushMetrics(fake, 1) // just flushed: the next requests are within the interval
    const pending: Promise<unknown>[] = []
    const options = {
      env: fake,
      shards: 1,
      intervalMs: 200,
      waitUntil: (p: Promise<unknown>) => {
        pending.push(p)
      },
    }
    addCounter('cic_rate_limited_total', { layer: 'buffer-test' })
    scheduleFlush(options)
    addCounter('cic_rate_limited_total', { layer: 'buffer-test' })
    scheduleFlush(options)
    expect(pending).toHaveLength(1) // one timer for both
    expect(sent).toHaveLength(0)
    await Promise.all(pending)
    expect(sent.map((b) => b.deltas.find(([k]) => k === KEY)?.[1])).toEqual([2])
  })

  it('reports the absolute in-flight count with its isolate id and time; re-reports on change or once the heartbeat is due', async () => {
    const sent: MetricsBatch[] = []
    const fake = {
      METRICS_AGGREGATOR: {
        getByName: () => ({
          add: async (b: MetricsBatch) => {
            sent.push(b)
            return true
          },
        }),
      },
    } as unknown as Env
    const active = seriesKey(FAMILIES.activeRequests.name, {})
    const heartbeatMs = 50
    countRequestsInFlight(1)
    countRequestsInFlight(1)
    await flushMetrics(fake, 1, heartbeatMs)
    expect(sent.at(-1)).toMatchObject({ deltas: [], gauges: { isolate: expect.any(String), at: expect.any(Number), values: [[active, 2]] } })
    expect(sent.at(-1)?.deltas.some(([k]) => k === active)).toBe(false) // never a delta any more
    const reported = sent.length
    await flushMetrics(fake, 1, heartbeatMs)
    expect(sent).toHaveLength(reported) // unchanged and fresh: nothing to send
    await new Promise((resolve) => setTimeout(resolve, heartbeatMs + 20))
    await flushMetrics(fake, 1, heartbeatMs)
    expect(sent).toHaveLength(reported + 1) // the heartbeat: same count, newer time
    expect(sent.at(-1)?.gauges?.values).toEqual([[active, 2]])
    expect(sent.at(-1)?.gauges?.at).toBeGreaterThan(sent.at(-2)?.gauges?.at ?? Infinity)
    countRequestsInFlight(-1)
    countRequestsInFlight(-1)
    await flushMetrics(fake, 1, heartbeatMs)
    expect(sent.at(-1)?.gauges?.values).toEqual([[active, 0]])
    await new Promise((resolve) => setTimeout(resolve, heartbeatMs + 20))
    await flushMetrics(fake, 1, heartbeatMs)
    expect(sent).toHaveLength(reported + 2) // nothing in flight: no heartbeat needed, an aged-out 0 is still 0
  })

  it('a shard applies each batch id once', async () => {
    const shard = env.METRICS_AGGREGATOR.getByName('metrics:test-idempotence')
    const batch = { id: 'iso:1', deltas: [[KEY, 4]] as [string, number][] }
    expect(await shard.add(batch)).toBe(true)
    expect(await shard.add(batch)).toBe(false)
    expect(await shard.add({ id: 'iso:2', deltas: [[KEY, 1]] })).toBe(true)
    expect((await shard.read(60_000)).find((s) => s.key === KEY)?.value).toBe(5)
  })
})
