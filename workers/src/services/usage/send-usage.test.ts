import { afterEach, describe, expect, it, vi } from 'vitest'
import { PACK_MAX_BYTES, PACK_MAX_EVENTS, packUsageEvents, type UsageEvent, type UsagePack } from '../../schemas/usage-event.ts'
import { sendUsage } from './send-usage.ts'

const eventOf = (requestId: string): UsageEvent => ({
  requestId,
  tenantId: 't-send',
  keyId: 'k',
  model: 'm',
  nodeId: 'n',
  endpoint: 'chat.completions',
  promptTokens: 12,
  completionTokens: 34,
  outcome: 'completed',
  httpStatus: 200,
  usageSource: 'node',
  latencyMs: 5,
  ttftMs: 2,
  createdAt: 1_700_000_000_000,
})
const event = eventOf('send-usage-0001')

/** Stand-ins for the USAGE_EVENTS binding (its first `failures` batches reject) and the outbox namespace. */
function flakySink(failures: number) {
  const batches: UsagePack[][] = []
  const outbox: { name: string; events: UsageEvent[] }[] = []
  return {
    batches,
    outbox,
    eventsSent: () => batches.map((b) => b.flatMap((p) => p.events.map((e) => e.requestId))),
    USAGE_EVENTS: {
      sendBatch: async (messages: Iterable<{ body: UsagePack; contentType: 'json' }>) => {
        batches.push([...messages].map((m) => m.body))
        if (batches.length <= failures) throw new Error('Queue send failed: internal error')
      },
    },
    USAGE_OUTBOX: {
      getByName: (name: string) => ({
        put: async (events: UsageEvent[]) => {
          outbox.push({ name, events })
          return { stored: events.length, duplicates: 0 }
        },
      }),
    },
  }
}

const loggedLines = (spy: { mock: { calls: unknown[][] } }) => spy.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)

afterEach(() => {
  vi.restoreAllMocks()
})

describe('packUsageEvents', () => {
  it('packs N events into ceil(N / k) messages, each within the size cap, in order', () => {
    const events = Array.from({ length: 1000 }, (_, i) => eventOf(`pack-${String(i).padStart(4, '0')}`))
    const packs = packUsageEvents(events)
    const bytes = (p: UsagePack) => new TextEncoder().encode(JSON.stringify(p)).length
    const perPack = Math.min(PACK_MAX_EVENTS, Math.floor((PACK_MAX_BYTES - 13) / (bytes({ events: [events[0] as UsageEvent] }) - 12)))
    expect(packs).toHaveLength(Math.ceil(events.length / perPack))
    expect(packs.every((p) => bytes(p) <= PACK_MAX_BYTES)).toBe(true)
    expect(packs.flatMap((p) => p.events)).toEqual(events)
  })

  it('cuts on bytes when events are large', () => {
    const big = (i: number) => ({ ...eventOf(`big-${i}-${'x'.repeat(3000)}`) })
    const packs = packUsageEvents(Array.from({ length: 60 }, (_, i) => big(i)))
    expect(packs.length).toBeGreaterThan(1)
    expect(packs.every((p) => new TextEncoder().encode(JSON.stringify(p)).length <= PACK_MAX_BYTES)).toBe(true)
  })
})

describe('sendUsage', () => {
  it('sends the events of requests that end together in one batch, packed in one message', async () => {
    const sink = flakySink(0)
    await Promise.all([sendUsage(sink, eventOf('together-1')), sendUsage(sink, eventOf('together-2'))])
    expect(sink.batches).toHaveLength(1)
    expect(sink.batches[0]).toHaveLength(1)
    expect(sink.eventsSent()).toEqual([['together-1', 'together-2']])
  })

  it('sends at once when a sendBatch is full, in several packed messages', async () => {
    const sink = flakySink(0)
    const sends: Promise<void>[] = []
    for (let i = 0; sink.batches.length === 0; i++) sends.push(sendUsage(sink, eventOf(`full-${i}`)))
    await Promise.all(sends)
    expect(sink.batches).toHaveLength(1)
    expect(sink.batches[0]?.length).toBe(Math.ceil(sends.length / PACK_MAX_EVENTS))
    expect(sink.eventsSent()[0]).toHaveLength(sends.length)
  })

  it('retries a rejected batch until the queue takes it', async () => {
    const sink = flakySink(2)
    await sendUsage(sink, event, 1)
    expect(sink.eventsSent()).toEqual([[event.requestId], [event.requestId], [event.requestId]])
    expect(sink.outbox).toEqual([])
  })

  it('after 4 failed sends puts the whole batch into the outbox, never only a log line', async () => {
    const sink = flakySink(Infinity)
    const logSpy = vi.spyOn(console, 'log').mockImplementation(() => {})
    const other = eventOf('send-usage-0002')
    const sent = sendUsage(sink, event, 1)
    void sendUsage(sink, other, 1)
    await expect(sent).resolves.toBeUndefined()
    expect(sink.batches).toHaveLength(4)
    expect(sink.outbox).toEqual([{ name: expect.stringMatching(/^usage-outbox:\d$/), events: [event, other] }])
    expect(loggedLines(logSpy).map((l) => l.msg)).toEqual(['usage_send_failed', 'usage_sent_to_outbox'])
  })
})
