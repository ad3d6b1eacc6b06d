import { describe, expect, it } from 'vitest'
import { estimatePromptTokens } from '../inference/count-tokens.ts'
import { capCompletion, refitCompletion } from '../inference/upstream-body.ts'
import { MEDIA_TOKENS_BOUND, promptBoundOf, reservationFor, TEMPLATE_TOKENS_BOUND } from './estimate-reservation.ts'

const config = { defaultMaxTokens: 4096, maxContextTokens: 8192 }
const messages = [{ role: 'user', content: 'hello there world' }]
const messagesTokens = Math.ceil(JSON.stringify(messages).length / 4)

describe('estimatePromptTokens', () => {
  it('counts a quarter token per UTF-8 byte, rounded up', () => {
    expect(estimatePromptTokens('abcd')).toBe(1)
    expect(estimatePromptTokens('abcde')).toBe(2)
    expect(estimatePromptTokens('日本語')).toBe(3) // 9 bytes: CJK is not undercounted as 1 token per 4 characters
    expect(estimatePromptTokens('😀😀')).toBe(2) // two 4-byte code points
  })
  it('counts token-id prompts one per id and sums lists', () => {
    expect(estimatePromptTokens([1, 2, 3])).toBe(3)
    expect(estimatePromptTokens([[1, 2], [3]])).toBe(3)
    expect(estimatePromptTokens(['abcd', 'abcd'])).toBe(2)
  })
})

describe('reservationFor', () => {
  it('reserves the prompt plus max_tokens for each choice', () => {
    expect(reservationFor('chat.completions', { model: 'm', messages, max_tokens: 100, n: 2 }, config)).toMatchObject({
      promptTokens: messagesTokens,
      completionTokens: 200,
      isCompletionGuess: false,
    })
  })
  it('prefers max_completion_tokens to max_tokens', () => {
    expect(reservationFor('chat.completions', { model: 'm', messages, max_tokens: 100, max_completion_tokens: 7 }, config).completionTokens).toBe(7)
  })
  it('guesses the default allowance when the client sets none, and says it is a guess', () => {
    expect(reservationFor('completions', { model: 'm', prompt: 'abcd' }, config)).toMatchObject({
      promptTokens: 1,
      completionTokens: 4096,
      isCompletionGuess: true,
    })
  })
  it('counts n sequences like vLLM generates them (best_of can only be 1)', () => {
    expect(reservationFor('completions', { model: 'm', prompt: 'abcd', max_tokens: 10, n: 3 }, config).completionTokens).toBe(30)
    expect(reservationFor('completions', { model: 'm', prompt: 'abcd', max_tokens: 10, best_of: 1 }, config).completionTokens).toBe(10)
  })
  it('refuses a reservation that is not a finite count (400 naming the field), should one get past the schema', () => {
    for (const body of [{ max_tokens: Infinity }, { max_tokens: Number.NaN }, { n: Infinity, max_tokens: 1 }]) {
      expect(() => reservationFor('completions', { model: 'm', prompt: 'abcd', ...body } as never, { ...config, maxContextTokens: Infinity })).toThrow(
        expect.objectContaining({ kind: 'invalid_request', extra: expect.objectContaining({ param: 'max_tokens' }) }),
      )
    }
  })
  it('bounds the prompt and the completion by the context length', () => {
    const long = 'x'.repeat(4 * 8000)
    expect(reservationFor('completions', { model: 'm', prompt: long, max_tokens: 5000 }, config)).toMatchObject({
      promptTokens: 8000,
      completionTokens: 192,
      isCompletionGuess: false,
    })
    expect(reservationFor('completions', { model: 'm', prompt: 'x'.repeat(4 * 9000) }, config)).toMatchObject({
      promptTokens: 8192,
      completionTokens: 1,
      isCompletionGuess: true,
    })
  })
  it('reserves only the input for embeddings', () => {
    expect(reservationFor('embeddings', { model: 'e', input: ['abcd', 'abcdabcd'] }, config)).toMatchObject({
      promptTokens: 3,
      completionTokens: 0,
      isCompletionGuess: false,
    })
  })
})

describe('capCompletion', () => {
  const reserved = (body: Parameters<typeof reservationFor>[1]) => reservationFor('chat.completions', body, config)

  it('forwards max_tokens equal to the reserved allowance when the client set none', () => {
    const body = { model: 'm', messages }
    const r = reserved(body)
    expect(capCompletion('chat.completions', body, r, r.promptTokens + r.completionTokens)).toEqual({ ...body, max_tokens: 4096 })
  })
  it('caps to what admission really held after shrinking the guess, split over n choices', () => {
    const body = { model: 'm', messages, n: 2 }
    const r = reserved(body)
    expect(capCompletion('chat.completions', body, r, r.promptTokens + 21)).toMatchObject({ max_tokens: 10 })
  })
  it('keeps the field the client used, and a smaller value than the reservation unchanged', () => {
    const r = { promptTokens: 5, completionTokens: 100, isCompletionGuess: false }
    expect(capCompletion('chat.completions', { model: 'm', messages, max_completion_tokens: 500 }, r, 105)).toEqual({
      model: 'm',
      messages,
      max_completion_tokens: 100,
    })
    expect(capCompletion('chat.completions', { model: 'm', messages, max_tokens: 7 }, r, 105)).toEqual({ model: 'm', messages, max_tokens: 7 })
    expect(capCompletion('chat.completions', { model: 'm', messages, max_tokens: 500, max_completion_tokens: 50 }, r, 105)).toEqual({
      model: 'm',
      messages,
      max_tokens: 100,
      max_completion_tokens: 50,
    })
  })
  it('sets max_tokens for text completions, counting n sequences', () => {
    const r = { promptTokens: 1, completionTokens: 30, isCompletionGuess: true }
    expect(capCompletion('completions', { model: 'm', prompt: 'abcd', n: 3 }, r, 31)).toMatchObject({ max_tokens: 10 })
    expect(capCompletion('completions', { model: 'm', prompt: 'abcd', max_completion_tokens: 9000 }, r, 31)).toMatchObject({
      max_tokens: 30,
      max_completion_tokens: 9000,
    })
  })
  it('leaves embeddings and requests without a lease alone', () => {
    const body = { model: 'e', input: 'abcd' }
    expect(capCompletion('embeddings', body, { promptTokens: 1, completionTokens: 0, isCompletionGuess: false }, 1)).toBe(body)
    const chatBody = { model: 'm', messages }
    expect(capCompletion('chat.completions', chatBody, reserved(chatBody), 0)).toBe(chatBody)
  })
})

describe('refitCompletion', () => {
  it('lowers the allowance the gateway set to the room the node has left', () => {
    expect(refitCompletion({ model: 'm', messages }, { model: 'm', messages, max_tokens: 4096 }, 3189)).toEqual({ model: 'm', messages, max_tokens: 3189 })
  })
  it("lowers a client's value only where the gateway had already lowered it", () => {
    const original = { model: 'm', messages, max_tokens: 9000, max_completion_tokens: 50 }
    expect(refitCompletion(original, { ...original, max_tokens: 4096 }, 100)).toEqual({ ...original, max_tokens: 100 })
  })
  it("leaves the client's own allowance alone: its error is the client's to hear", () => {
    const original = { model: 'm', messages, max_tokens: 4000 }
    expect(refitCompletion(original, original, 3189)).toBeNull()
    expect(refitCompletion({ model: 'e', input: 'abcd' }, { model: 'e', input: 'abcd' }, 10)).toBeNull()
  })
})

describe('promptBoundOf (what a budget holds for the prompt)', () => {
  it('is one token per UTF-8 byte plus the template allowance, never under the estimate', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: '日本語 text' }] }
    const bytes =
      new TextEncoder().encode(JSON.stringify(body.messages)).length + new TextEncoder().encode(JSON.stringify([null, null, null, null, null])).length
    expect(promptBoundOf(body, 100_000)).toBe(bytes + TEMPLATE_TOKENS_BOUND)
    expect(reservationFor('chat.completions', body, config).promptBound).toBeGreaterThan(reservationFor('chat.completions', body, config).promptTokens)
  })
  it('counts the tools the template renders and a fixed bound per image', () => {
    const plain = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }
    const withImage = {
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'hi' },
            { type: 'image_url', image_url: { url: 'https://x/a.png' } },
          ],
        },
      ],
    }
    expect(promptBoundOf(withImage, 1e9) - promptBoundOf(plain, 1e9)).toBeGreaterThanOrEqual(MEDIA_TOKENS_BOUND)
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }]
    expect(promptBoundOf({ ...plain, tools }, 1e9)).toBe(promptBoundOf(plain, 1e9) + JSON.stringify(tools).length - 'null'.length)
  })
  it('counts ids one each, each prompt of a batch on its own, each at most a context', () => {
    expect(promptBoundOf({ model: 'm', prompt: [1, 2, 3] }, 1e9)).toBe(3 + TEMPLATE_TOKENS_BOUND)
    expect(promptBoundOf({ model: 'e', input: ['abcd', 'x'.repeat(50_000)] }, 2048)).toBe(4 + TEMPLATE_TOKENS_BOUND + 2048)
  })
  it('carries the price for a money budget', () => {
    const price = { inputMicroUsdPerMTok: 1, outputMicroUsdPerMTok: 2 }
    expect(reservationFor('completions', { model: 'm', prompt: 'abcd' }, config, price)).toMatchObject({ price })
  })
})
