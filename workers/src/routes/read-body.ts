// Reads and validates a JSON request body once, at the edge: 413 when too large, 400 naming the bad field.
// Every request body the Worker reads goes through readBodyText: counted as it arrives and refused at the cap,
// with or without a Content-Length (a chunked body is never buffered past the limit; see read-capped.ts).
// An empty body is read as `{}`: `curl -X POST …/keys` (every field optional) should just work, and a route
// with required fields then names the first missing one instead of calling the body invalid JSON.
import type { Context } from 'hono'
import type { z } from 'zod'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'
import { lingerBytesFor, readCappedMessageText } from '../read-capped.ts'

/** The request body as text, at most `maxBytes` of it: 413 `request_too_large` beyond (Content-Length first, then counted). */
export async function readBodyText(c: Context<AppEnv>, maxBytes: number): Promise<string> {
  const tooLarge = () => new ApiError('payload_too_large', `Request body exceeds the ${maxBytes} byte limit.`, { code: 'request_too_large' })
  if (Number(c.req.header('content-length') ?? 0) > maxBytes) throw tooLarge()
  const read = await readCappedMessageText(c.req.raw, maxBytes, lingerBytesFor(c.req.header('content-length')))
  if (!read.ok) throw tooLarge()
  return read.text
}

export async function readJsonBody<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.infer<S>> {
  const text = await readBodyText(c, c.get('config').MAX_BODY_BYTES)
  let json: unknown
  try {
    json = text.trim() === '' ? {} : JSON.parse(text)
  } catch {
    throw new ApiError('invalid_request', 'We could not parse the JSON body of your request. The body must be valid JSON.', { code: 'invalid_json' })
  }
  const parsed = schema.safeParse(json)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  // An unknown key is reported on the object that holds it (path [] at the top): the offending field is the key.
  const path = issue?.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : (issue?.path ?? [])
  const param = path.join('.') || null
  throw new ApiError('invalid_request', `Invalid request: ${param ? `'${param}': ` : ''}${issue?.message ?? 'invalid body'}`, {
    param,
    code: 'invalid_request',
  })
}
