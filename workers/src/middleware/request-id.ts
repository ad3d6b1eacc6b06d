// Gives every request an id, echoes the client's x-request-id (if it is sane) or ours on the response, and
// starts the clock used for latency and gateway-overhead figures.
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../env.ts'

const CLIENT_ID = /^[A-Za-z0-9._:-]{8,128}$/

export const requestId = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    c.set('startedAt', performance.now())
    const fromClient = c.req.header('x-request-id')
    const ours = `req_${crypto.randomUUID().replaceAll('-', '')}`
    const isSane = fromClient !== undefined && CLIENT_ID.test(fromClient)
    // Our id is unique even when a client reuses its own: it keys the usage ledger, where a repeated id would
    // be taken for a redelivery and that request's usage dropped. The client's id prefixes it, so logs, the
    // node and ledger rows can still be searched by it.
    c.set('requestId', isSane ? `${fromClient}/${ours}` : ours)
    await next()
    c.res.headers.set('x-request-id', isSane ? fromClient : ours)
  })
