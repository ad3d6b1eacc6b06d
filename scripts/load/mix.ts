// What each request of a run is: tenant, key, model and kind (chat or text completion, streamed or not, or
// embeddings), drawn from the run's seeded PRNG so the same seed sends the same requests in the same order.

export type RequestKind = 'chat' | 'completion' | 'embedding'

export type LoadTarget = {
  tenants: { id: string; name: string; keys: { id: string; key: string }[] }[]
  /** Generation models (chat and text completions) and embedding models the registered nodes serve. */
  models: string[]
  embeddingModels: string[]
}

export type RequestSpec = {
  kind: RequestKind
  stream: boolean
  tenant: number
  key: number
  model: string
  path: string
  body: string
}

export type MixOptions = {
  /** Share of chat and text completions sent with `stream: true` (0 to 1). */
  streamShare: number
  /** Tokens each generation asks for at most. */
  maxTokens: number
}

/** Shares of the three kinds: mostly chat, as OpenAI-compatible traffic is. */
const KIND_SHARES: [RequestKind, number][] = [
  ['chat', 0.6],
  ['completion', 0.2],
  ['embedding', 0.2],
]
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'load', 'test', 'edge', 'token', 'node', 'queue', 'ledger', 'limit']

const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)]!

function pickKind(random: () => number, hasEmbeddings: boolean): RequestKind {
  let r = random() * (hasEmbeddings ? 1 : 1 - KIND_SHARES[2]![1])
  for (const [kind, share] of KIND_SHARES) {
    if (r < share) return kind
    r -= share
  }
  return 'chat'
}

function prompt(random: () => number): string {
  return Array.from({ length: 2 + Math.floor(random() * 6) }, () => pick(WORDS, random)).join(' ')
}

export function nextRequest(target: LoadTarget, options: MixOptions, random: () => number): RequestSpec {
  const tenant = Math.floor(random() * target.tenants.length)
  const key = Math.floor(random() * target.tenants[tenant]!.keys.length)
  const kind = target.models.length === 0 ? 'embedding' : pickKind(random, target.embeddingModels.length > 0)
  const text = prompt(random)
  if (kind === 'embedding') {
    const model = pick(target.embeddingModels, random)
    return { kind, stream: false, tenant, key, model, path: '/v1/embeddings', body: JSON.stringify({ model, input: text }) }
  }
  const model = pick(target.models, random)
  const stream = random() < options.streamShare
  // Streams ask for the usage frame, so the client can compare its token count with the ledger's.
  const streaming = stream ? { stream: true, stream_options: { include_usage: true } } : {}
  if (kind === 'chat') {
    const body = { model, messages: [{ role: 'user', content: text }], max_tokens: options.maxTokens, ...streaming }
    return { kind, stream, tenant, key, model, path: '/v1/chat/completions', body: JSON.stringify(body) }
  }
  const body = { model, prompt: text, max_tokens: options.maxTokens, ...streaming }
  return { kind, stream, tenant, key, model, path: '/v1/completions', body: JSON.stringify(body) }
}
