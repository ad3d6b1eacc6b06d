// A node's answers are read with caps, over real TCP to a stand-in: one endless SSE line ends the stream with
// the error event at 1 MiB; a huge JSON answer is a 502; a huge error body still maps to an error; a redirect
// is a node error and is not followed; an oversized /metrics scrape counts as no scrape. (That the SSE boundary
// scan is linear is unit-tested with a counter in src/services/proxy/sse-events.test.ts.)
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { estimateRequestPrompt } from '../../src/services/inference/count-tokens.ts'
import { admin, api, registerNode, seedTenant } from '../helpers/gateway.ts'
import { readSse } from '../helpers/sse.ts'
import { standin } from '../helpers/standin.ts'

const node = standin(inject('pools').bounded[0] as string)
const MB = 1024 * 1024
const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 8, ...extra })

afterEach(async () => {
  await node.reset()
})

describe('node answers past their caps', () => {
  it('ends a stream whose node sends a 16 MB line without an end with the error event, after the tokens before it', async () => {
    await node.setKnobs({ fail: 'huge-line', failAfterTokens: 2, hugeBytes: 16 * MB })
    await registerNode(node.url, ['pool-1'])
    const { key } = await seedTenant()
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-1', { stream: true }) })
    expect(res.status).toBe(200)
    const events = await readSse(res)
    expect(events.at(-1)).not.toBe('[DONE]')
    expect(JSON.parse(events.at(-1) as string)).toMatchObject({ error: { type: 'server_error', code: 'upstream_event_too_large' } })
    expect(events.filter((e) => e.includes('"content":"hello "'))).toHaveLength(1) // the tokens sent before it went through
  })

  it('answers 502 to a non-streamed answer larger than 16 MiB, and bills its prompt (the node did the work)', async () => {
    await node.setKnobs({ fail: 'huge-body', hugeBytes: 20 * MB })
    await registerNode(node.url, ['pool-2'])
    const { key, tenantId } = await seedTenant()
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-2') })
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'upstream_answer_too_large' } })
    // No free prefill (issue 16): at least the prompt, as the gateway counts it; it used to be billed 0 tokens.
    let row: Record<string, unknown> | null = null
    for (let i = 0; i < 400 && !row; i++) {
      row = await env.DB.prepare('SELECT outcome, prompt_tokens, completion_tokens, usage_source FROM usage_events WHERE tenant_id = ?').bind(tenantId).first()
      if (!row) await new Promise((r) => setTimeout(r, 25))
    }
    expect(row).toEqual({
      outcome: 'upstream_error',
      prompt_tokens: estimateRequestPrompt(chat('pool-2')),
      completion_tokens: 0,
      usage_source: 'gateway_count',
    })
  })

  it('still answers a non-streamed answer below the cap', async () => {
    await node.setKnobs({ fail: 'huge-body', hugeBytes: 1 * MB })
    await registerNode(node.url, ['pool-3'])
    const { key } = await seedTenant()
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-3') })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { pad: string }).pad).toHaveLength(MB)
  })

  it('maps a node error with a 20 MB body by its status alone', async () => {
    await node.setKnobs({ fail: 'huge-error', hugeBytes: 20 * MB })
    await registerNode(node.url, ['pool-4'])
    const { key } = await seedTenant()
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-4') })
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'upstream_error', message: expect.stringContaining('HTTP 500') } })
  })

  it("does not follow a node's redirect: 502, and nothing reaches the redirect target", async () => {
    await node.setKnobs({ fail: 'redirect' })
    await registerNode(node.url, ['pool-5'])
    const { key } = await seedTenant()
    const res = await api(key, '/v1/chat/completions', { method: 'POST', json: chat('pool-5') })
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_redirect' } })
    const stats = await node.stats()
    expect(stats.requestsByPath['/v1/elsewhere']).toBeUndefined()
    expect(stats.requestsByPath['/v1/chat/completions']).toBe(1)
  })
})

describe("the NodeMonitor's /metrics scrape", () => {
  const depthOf = async (url: string) => {
    const view = (await (await admin('/admin/nodes')).json()) as { data: { endpoint: string; queue_depth: number | null }[] }
    return view.data.find((d) => d.endpoint === url)?.queue_depth
  }

  it('reads a normal scrape, and counts one larger than 2 MiB as no scrape (the node stays healthy, load unknown)', async () => {
    await node.setKnobs({ queueDepth: 7 })
    const small = await registerNode(node.url, ['pool-6'])
    expect(small.status).toBe('ready')
    expect(await depthOf(node.url)).toBe(7)
    await admin(`/admin/nodes/${small.id}`, { method: 'DELETE' })

    await node.setKnobs({ queueDepth: 7, metricsPadBytes: 3 * MB })
    const padded = await registerNode(`${node.url}/`, ['pool-7'])
    expect(padded.status).toBe('ready')
    const view = (await (await admin(`/admin/nodes/${padded.id}`)).json()) as { queue_depth: number | null }
    expect(view.queue_depth).toBeNull()
  })
})
