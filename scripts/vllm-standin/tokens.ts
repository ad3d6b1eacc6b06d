// The stand-in's "tokenizer" and "model": deterministic token counts and answer text, so tests can
// predict usage exactly. The rules are spelled out in README.md; keep the two in sync.

/** Whitespace-separated words; the stand-in's notion of a token. */
export function words(text: string): string[] {
  const out: string[] = []
  for (const w of text.split(/\s+/)) if (w !== '') out.push(w)
  return out
}

/** Tokens charged per chat message on top of its words (role markers in a real chat template). */
export const TOKENS_PER_MESSAGE = 3

/** Text of a chat message `content`: a string, or the `text` of its `{type:"text"}` parts joined by spaces. */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  const texts: string[] = []
  for (const part of content) {
    if (typeof part === 'object' && part !== null && 'text' in part && typeof part.text === 'string') texts.push(part.text)
  }
  return texts.join(' ')
}

/** Prompt tokens of a completions `prompt` or embeddings `input` entry: words of a string, length of a token-id array. */
export function promptEntryTokens(entry: unknown): number {
  if (typeof entry === 'string') return words(entry).length
  if (Array.isArray(entry)) return entry.length
  return 0
}

/** Text the answer echoes: the string itself, or token ids rendered as `t<id>`. */
export function promptEntryText(entry: unknown): string {
  if (typeof entry === 'string') return entry
  if (Array.isArray(entry)) return entry.map((id) => 't' + String(id)).join(' ')
  return ''
}

export type Answer = {
  /** One string per generated token, each ending in a space. */
  tokens: string[]
  finishReason: 'stop' | 'length'
}

/**
 * The deterministic answer: the words of `sourceText` echoed in a cycle (`tok1 `, `tok2 `, … when it
 * has none), `answerTokens` long, cut to `maxTokens` when that is smaller (then finish_reason `length`).
 */
export function answerFor(sourceText: string, answerTokens: number, maxTokens: number | undefined): Answer {
  const source = words(sourceText)
  const isCut = maxTokens !== undefined && maxTokens < answerTokens
  const count = isCut ? maxTokens : answerTokens
  const tokens = new Array<string>(count)
  for (let i = 0; i < count; i++) tokens[i] = (source[i % source.length] ?? `tok${i + 1}`) + ' '
  return { tokens, finishReason: isCut ? 'length' : 'stop' }
}
