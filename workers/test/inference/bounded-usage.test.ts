// Usage a node reports is bounded by what the request could have used: a node claiming a million completion
// tokens for a request allowed 8 is billed 8 (clamped, flagged on the event, logged), and the tenant's admission
// lease settles with the clamped figure. A truthful node's usage is unchanged.
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, inject, it } from 'vitest'
import type { UsageEvent } from '../../src/schemas/usage-event.ts'
import { newRequestTiming } from '../../src/services/metrics/request-timing.ts'
import { forwardInference } from '../../src/services/proxy/forward-inference.ts'
import { api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { eventually, standin } from '../helpers/standin.ts'

const node = standin(inject('pools').boundedUsage[0] as string)
type Row = { prompt_tokens: number; completion_tokens: number; usage_source: string }
const ledgerRows = (tenantId: string) =>
  env.DB.prepare('SELECT prompt_tokens, completion_tokens, usage_source FROM usage_events WHERE tenant_id = ?')
    .bind(tenantId)
    .all<Row>()
    .then((r) => r.results)

afterEach(async () => {
  await node.reset()
})

describe('node-reported usage', () => {
  it.each([false, true])('is clamped to max_tokens × n when a node over-reports (stream: %s)', async (stream) => {
    await node.setKnobs({ reportedCompletionTokens: 1_000_000 })
    const model = stream ? 'pool-8' : 'pool-9'
    await registerNode(node.url, [model])
    const { tenantId, key } = await seedTenant()
    const res = await api(key, '/v1/chat/completions', {
      method: 'POST',
      json: { model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 4, n: 2, stream },
    })
    expect(res.status).toBe(200)
    await res.text()
    const [row] = await eventually(
      () => ledgerRows(tenantId),
      (rows) => rows.length === 1,
    )
    expect(row).toMatchObject({ completion_tokens: 8, usage_source: 'node' })
  })

  it('is billed as reported when it is within the bound', async () => {
    await registerNode(node.url, ['pool-10'])
    const { tenantId, key } = await seedTenant()
    const res = await api(key, '/v1/chat/completions', {
      method: 'POST',
      json: { model: 'pool-10', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 4 },
    })
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }
    const [row] = await eventually(
      () => ledgerRows(tenantId),
      (rows) => rows.length === 1,
    )
    expect(row).toMatchObject({ prompt_tokens: body.usage.prompt_tokens, completion_tokens: 4 })
  })

  it('flags the clamped event (usageClamped) and leaves a truthful one unflagged', async () => {
    const events: UsageEvent[] = []
    const forward = async () => {
      const pending: Promise<unknown>[] = []
      const res = await forwardInference({
        endpoint: 'chat.completions',
        body: { model: 'pool-11', messages: [{ role: 'user', content: 'one two' }], max_tokens: 3 },
        identity: { tenantId: 't-clamp', keyId: 'k', keyLimits: {} },
        cacheSalt: null,
        requestId: `clamp-${crypto.randomUUID()}`,
        startedAt: performance.now(),
        clientSignal: new AbortController().signal,
        timeouts: { connectMs: 1_000, firstByteMs: 1_000, idleMs: 1_000, requestMs: 1_000 },
        retry: { maxRetries: 0, backoffMs: 1, deadlineMs: 5_000 },
        maxContextTokens: 8192,
        selectNode: async () => ({
          node: { id: 'n-1', name: 'n-1', endpoint: node.url, models: ['pool-11'], status: 'ready', engine: 'vllm', apiKey: null },
          isProbe: false,
        }),
        reportOutcome: () => {},
        releaseProbe: () => {},
        waitUntil: (p) => {
          pending.push(p)
        },
        recordUsage: async (event) => {
          events.push(event)
        },
        timing: newRequestTiming(),
      })
      await res.text()
      await Promise.all(pending)
    }
    await node.setKnobs({ reportedCompletionTokens: 5_000 })
    await forward()
    await node.setKnobs({ reportedCompletionTokens: null })
    await forward()
    expect(events).toMatchObject([{ completionTokens: 3, usageClamped: true }, { completionTokens: 3 }])
    expect(events[1]).not.toHaveProperty('usageClamped')
  })
})
