// Gives every request an id (the client's x-request-id if it is sane), echoes it on the response, and
// starts the clock used for latency and gateway-overhead figures.
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../env.ts'

const CLIENT_ID = /^[A-Za-z0-9._:-]{8,128}$/

export const requestId = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    c.set('startedAt', performance.now())
    const fromClient = c.req.header('x-request-id')
    const id = fromClient && CLIENT_ID.test(fromClient) ? fromClient : `req_${crypto.randomUUID().replaceAll('-', '')}`
    c.set('requestId', id)
    await next()
    c.res.headers.set('x-request-id', id)
  })
