// A request body the handler never read (a 401 before the read, a 413 on its Content-Length, an unknown route) is
// cancelled before the answer leaves, after reading and dropping it when its declared length is small
// (lingerBytesFor): that client reads its answer instead of a connection reset, and a huge sender is cut off. Without the cancel, `wrangler dev` took in the
// whole of a 200 MB chunked body refused with 401 (+88 MB, test/e2e/bounded-memory.test.ts); without the drain, the
// openai SDK got a connection error instead of its 413 (test/e2e/openai-client.test.ts). First in the chain, so it
// sees every answer, errors included (onError has made the Response by the time `next()` returns).
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../env.ts'
import { discardBriefly, lingerBytesFor } from '../read-capped.ts'

export const discardUnreadBody = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    await next()
    const body = c.req.raw.body
    if (!body || c.req.raw.bodyUsed || body.locked) return
    try {
      const reader = body.getReader()
      await discardBriefly(reader, lingerBytesFor(c.req.header('content-length')))
      reader.cancel().catch(() => {})
    } catch {} // a body the runtime already closed: nothing left to take in
  })
