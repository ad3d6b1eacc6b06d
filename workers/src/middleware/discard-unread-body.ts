// Cancels a request body the handler never read (a 401 before the read, an unknown route), so the runtime stops
// taking it in. Without this, `wrangler dev` took in the whole of a 200 MB chunked body refused with 401 and grew by
// ~88 MB (test/e2e/bounded-memory.test.ts); cancelling ends the connection instead. First in the chain, so it sees
// every answer, errors included (onError has made the Response by the time `next()` returns).
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../env.ts'

export const discardUnreadBody = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    await next()
    const body = c.req.raw.body
    if (!body || c.req.raw.bodyUsed || body.locked) return
    try {
      await body.cancel()
    } catch {} // a body the runtime already closed (a capped reader stopped it): nothing left to take in
  })
