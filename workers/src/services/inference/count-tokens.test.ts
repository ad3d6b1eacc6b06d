import { describe, expect, it } from 'vitest'
import { usageSchema } from '../../schemas/openai.ts'
import { estimateRequestPrompt, parseAnswer, tokensOf, usageOf } from './count-tokens.ts'

const messages = [{ role: 'user', content: 'tell me a story about a cat' }]
const chat = { model: 'm', messages }

describe('parseAnswer', () => {
  it("reads the node's usage block when there is one", () => {
    const text = JSON.stringify({ choices: [{ message: { content: 'ok' } }], usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 } })
    expect(parseAnswer(text).usage).toEqual({ prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 })
  })
  it('measures the generated text of every choice: chat content, tool-call arguments, completion text', () => {
    const text = JSON.stringify({ choices: [{ message: { content: 'abcdefgh', tool_calls: [{ function: { arguments: '{"a":1}' } }] } }, { text: '日本' }] })
    expect(parseAnswer(text)).toEqual({ usage: null, generated: { textBytes: 8 + 7 + 6, pieces: 3 } })
  })
  it('counts nothing in an answer that is not JSON', () => {
    expect(parseAnswer('<html>')).toEqual({ usage: null, generated: { textBytes: 0, pieces: 0 } })
  })
})

describe('tokensOf', () => {
  it("bills the node's usage when it reported one", () => {
    expect(tokensOf({ prompt_tokens: 9, completion_tokens: 4 }, 'chat.completions', chat, { textBytes: 400, pieces: 9 })).toEqual({
      promptTokens: 9,
      completionTokens: 4,
      cachedPromptTokens: 0,
      usageSource: 'node',
    })
  })
  it("takes the node's cached prompt tokens (prompt_tokens_details), clamped to the prompt; a malformed detail counts none", () => {
    const usage = (details: unknown) =>
      parseAnswer(JSON.stringify({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, prompt_tokens_details: details } })).usage
    const cachedOf = (details: unknown) => tokensOf(usage(details), 'chat.completions', chat, { textBytes: 0, pieces: 0 }).cachedPromptTokens
    expect(cachedOf({ cached_tokens: 3 })).toBe(3)
    expect(cachedOf({ cached_tokens: 50 })).toBe(9)
    expect(cachedOf({ cached_tokens: null })).toBe(0)
    expect(cachedOf(null)).toBe(0)
    expect(cachedOf({ cached_tokens: -1 })).toBe(0)
    expect(cachedOf('garbage')).toBe(0)
    expect(usage({ cached_tokens: 'x' })).toMatchObject({ prompt_tokens: 9, completion_tokens: 4 }) // the usage itself is kept
  })
  it('without usage, estimates the prompt like admission and the completion from the text (bytes / 4)', () => {
    const answer = parseAnswer(JSON.stringify({ choices: [{ message: { content: 'x'.repeat(401) } }] }))
    expect(tokensOf(answer.usage, 'chat.completions', chat, answer.generated)).toEqual({
      promptTokens: Math.ceil(JSON.stringify(messages).length / 4),
      completionTokens: 101,
      usageSource: 'gateway_count',
    })
    expect(estimateRequestPrompt(chat)).toBe(Math.ceil(JSON.stringify(messages).length / 4))
  })
  it('counts at least one token per streamed content piece', () => {
    expect(tokensOf(null, 'completions', { model: 'm', prompt: 'abcdabcd' }, { textBytes: 6, pieces: 5 })).toEqual({
      promptTokens: 2,
      completionTokens: 5,
      usageSource: 'gateway_count',
    })
  })
  it('counts only the input of an embedding', () => {
    expect(tokensOf(null, 'embeddings', { model: 'e', input: ['abcd', 'abcdabcd'] }, { textBytes: 0, pieces: 0 })).toEqual({
      promptTokens: 3,
      completionTokens: 0,
      usageSource: 'gateway_count',
    })
  })
})

describe('usageOf', () => {
  it('accepts and refuses what usageSchema does, with the same result', () => {
    const cases: unknown[] = [
      { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 },
      { prompt_tokens: 9 },
      { prompt_tokens: 0, completion_tokens: 0, extra: 'dropped', prompt_tokens_details: { cached_tokens: 3 } },
      { prompt_tokens: 9, completion_tokens: null },
      { prompt_tokens: 9, prompt_tokens_details: null },
      { prompt_tokens: 9, prompt_tokens_details: {} },
      { prompt_tokens: 9, prompt_tokens_details: { cached_tokens: null, audio_tokens: 2 } },
      { prompt_tokens: 9, prompt_tokens_details: { cached_tokens: 'x' } },
      { prompt_tokens: 9, prompt_tokens_details: { cached_tokens: -1 } },
      { prompt_tokens: 9, prompt_tokens_details: [3] },
      { prompt_tokens: 9, prompt_tokens_details: 'cached' },
      { prompt_tokens: 9, total_tokens: '10' },
      { prompt_tokens: -1 },
      { prompt_tokens: 1.5 },
      { prompt_tokens: 2 ** 53 },
      { prompt_tokens: Number.NaN },
      { prompt_tokens: Number.POSITIVE_INFINITY },
      { completion_tokens: 3 },
      { prompt_tokens: 4, completion_tokens: -2 },
      [9, 1],
      null,
      undefined,
      'usage',
      7,
    ]
    for (const value of cases) {
      const parsed = usageSchema.safeParse(value)
      expect(usageOf(value), JSON.stringify(value) ?? String(value)).toEqual(parsed.success ? parsed.data : null)
    }
  })
})
