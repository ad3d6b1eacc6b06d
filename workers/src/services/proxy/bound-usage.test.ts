import { describe, expect, it } from 'vitest'
import { clampUsage, usageBoundOf } from './bound-usage.ts'

const messages = [{ role: 'user', content: 'hi' }]

describe('usageBoundOf', () => {
  it('allows a context of prompt and the forwarded allowance for each of n sequences', () => {
    expect(usageBoundOf('chat.completions', { model: 'm', messages, max_tokens: 100, n: 3 }, 8192)).toEqual({ promptTokens: 8192, completionTokens: 300 })
    expect(usageBoundOf('chat.completions', { model: 'm', messages, max_tokens: 100, max_completion_tokens: 40 }, 8192)).toEqual({
      promptTokens: 8192,
      completionTokens: 40,
    })
    expect(usageBoundOf('chat.completions', { model: 'm', messages }, 8192)).toEqual({ promptTokens: 8192, completionTokens: 8192 })
  })
  it('counts each prompt of a batch, and each embedding input, in its own context', () => {
    expect(usageBoundOf('completions', { model: 'm', prompt: ['a', 'b'], max_tokens: 10 }, 1000)).toEqual({ promptTokens: 2000, completionTokens: 20 })
    expect(usageBoundOf('completions', { model: 'm', prompt: [1, 2, 3], max_tokens: 10 }, 1000)).toEqual({ promptTokens: 1000, completionTokens: 10 })
    expect(usageBoundOf('embeddings', { model: 'e', input: ['a', 'b', 'c'] }, 512)).toEqual({ promptTokens: 1536, completionTokens: 0 })
  })
})

describe('clampUsage', () => {
  it('leaves usage within the bound alone and cuts what passes it, saying so', () => {
    const bound = { promptTokens: 100, completionTokens: 10 }
    expect(clampUsage({ promptTokens: 100, completionTokens: 10 }, bound)).toEqual({ tokens: { promptTokens: 100, completionTokens: 10 }, isClamped: false })
    expect(clampUsage({ promptTokens: 7, completionTokens: 1_000_000, usageSource: 'node' }, bound)).toEqual({
      tokens: { promptTokens: 7, completionTokens: 10, usageSource: 'node' },
      isClamped: true,
    })
    expect(clampUsage({ promptTokens: 10 ** 9, completionTokens: 0 }, bound)).toMatchObject({ tokens: { promptTokens: 100 }, isClamped: true })
  })
})
