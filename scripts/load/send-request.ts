// Sends one request of the run over keep-alive HTTP/1.1 (node:http, no client-side retry) and times it:
// when it left, when the response headers came, when the first token came (streams), when it ended. Reads
// the answer's usage (JSON body, or a stream's usage frame) and an error's OpenAI envelope.
import http from 'node:http'
import type { RequestSpec } from './mix.ts'

export type Outcome = {
  index: number
  spec: Pick<RequestSpec, 'kind' | 'stream' | 'tenant' | 'key' | 'model'>
  /** Clock times (performance.now(), ms). `sentAt` is null for a request dropped at the in-flight cap. */
  dueAt: number
  sentAt: number | null
  headersAt: number | null
  firstTokenAt: number | null
  endAt: number | null
  /** HTTP status; null when no response came (connection error) or the request was dropped. */
  status: number | null
  /** The error envelope's `code` (HTTP errors, or a stream's final error event), or the socket error's code. */
  errorCode: string | null
  errorMessage: string | null
  /** A stream that ended with an error event instead of `[DONE]`. */
  streamBroken: boolean
  usage: { promptTokens: number; completionTokens: number } | null
}

type ErrorEnvelope = { error?: { code?: unknown; message?: unknown } }
type UsageBlock = { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null }
type Chunk = ErrorEnvelope & UsageBlock & { choices?: { delta?: { content?: unknown }; text?: unknown }[] }

function parseJson(text: string): Chunk | null {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? (value as Chunk) : null
  } catch {
    return null
  }
}

function usageOf(body: UsageBlock): Outcome['usage'] {
  const u = body.usage
  if (!u || typeof u.prompt_tokens !== 'number') return null
  return { promptTokens: u.prompt_tokens, completionTokens: typeof u.completion_tokens === 'number' ? u.completion_tokens : 0 }
}

export function blankOutcome(index: number, spec: Outcome['spec'], dueAt: number): Outcome {
  const { kind, stream, tenant, key, model } = spec // not the body: a long run keeps every outcome
  return {
    index,
    spec: { kind, stream, tenant, key, model },
    dueAt,
    sentAt: null,
    headersAt: null,
    firstTokenAt: null,
    endAt: null,
    status: null,
    errorCode: null,
    errorMessage: null,
    streamBroken: false,
    usage: null,
  }
}

/** Reads SSE frames as they arrive: first token time, the usage frame, an error event. */
function streamReader(out: Outcome) {
  let buffer = ''
  return (text: string) => {
    buffer += text
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n')
      if (data === '' || data === '[DONE]') continue
      const chunk = parseJson(data)
      if (!chunk) continue
      if (chunk.error) {
        out.streamBroken = true
        out.errorCode = String(chunk.error.code ?? 'stream_error')
        out.errorMessage = String(chunk.error.message ?? '')
      }
      const choice = chunk.choices?.[0]
      const token = choice?.delta?.content ?? choice?.text
      if (out.firstTokenAt === null && typeof token === 'string' && token !== '') out.firstTokenAt = performance.now()
      out.usage = usageOf(chunk) ?? out.usage
    }
  }
}

/**
 * Never rejects: a connection error or `idleTimeoutMs` without a byte (the gateway's own timeouts are up to
 * 10 min) ends the outcome with an `errorCode` instead.
 */
export function sendRequest(agent: http.Agent, baseUrl: URL, apiKey: string, spec: RequestSpec, out: Outcome, idleTimeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const finish = () => {
      out.endAt ??= performance.now()
      resolve(out)
    }
    const req = http.request(
      new URL(spec.path, baseUrl),
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(spec.body) },
      },
      (res) => {
        out.headersAt = performance.now()
        out.status = res.statusCode ?? null
        res.setEncoding('utf8')
        const isStream = out.status === 200 && spec.stream
        const onStream = isStream ? streamReader(out) : null
        let body = ''
        res.on('data', (text: string) => {
          if (onStream) onStream(text)
          else body += text
        })
        res.on('end', () => {
          if (!isStream) {
            const parsed = parseJson(body)
            if (out.status === 200 && parsed) out.usage = usageOf(parsed)
            if (out.status !== 200) {
              out.errorCode = String(parsed?.error?.code ?? `http_${out.status}`)
              out.errorMessage = String(parsed?.error?.message ?? '')
            }
          }
          finish()
        })
        res.on('error', (err: NodeJS.ErrnoException) => {
          out.errorCode ??= err.code ?? 'response_error'
          out.streamBroken = isStream
          finish()
        })
        res.on('close', () => {
          if (!res.complete && out.errorCode === null) {
            out.errorCode = 'response_aborted'
            out.streamBroken = isStream
          }
          finish()
        })
      },
    )
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (out.status !== null) return // the response's own error handler reports it
      out.errorCode ??= err.code ?? 'request_error'
      out.errorMessage ??= err.message
      finish()
    })
    req.setTimeout(idleTimeoutMs, () => {
      out.errorCode = 'client_timeout'
      out.streamBroken = out.status === 200 && spec.stream
      req.destroy(new Error('client timeout')) // with an error, so 'error' (or the response's 'close') ends it
    })
    out.sentAt = performance.now()
    req.end(spec.body)
  })
}
