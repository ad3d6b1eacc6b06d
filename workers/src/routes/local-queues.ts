// LOCAL DEV ONLY: Cloudflare Queues' pull-consumer REST API for the node-ops queue, served by the Worker so that
// orchestrator-runner runs unchanged against `wrangler dev` (CLOUDFLARE_API_BASE=<worker>/local-queues/client/v4).
// Answers 404 like any unknown route unless LOCAL_QUEUE_SHIM=1 and the environment is not production-like. It speaks
// Cloudflare's API, so its errors use Cloudflare's envelope ({success:false, errors:[{code,message}]}), not ours.
import { Hono, type Context } from 'hono'
import type { z } from 'zod'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'
import { tokensMatch } from '../middleware/bearer-auth.ts'
import { ackRequestSchema, pullRequestSchema } from '../schemas/queue-pull-api.ts'
import { pullOptions } from '../../../durable-objects/local-queue-shim/contract.ts'
import { readBodyText } from './read-body.ts'
import { isLocalQueueShimEnabled, queueShim } from '../services/local-queue/node-ops-shim.ts'

const cfError = (c: Context<AppEnv>, status: 400 | 401 | 404, code: number, message: string) =>
  c.json({ success: false, errors: [{ code, message }], messages: [], result: null }, status)

const queueNotFound = (c: Context<AppEnv>) => cfError(c, 404, 11000, 'Queue not found (the local shim serves node-ops only)')

async function readBody<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.infer<S> | null> {
  const text = await readBodyText(c, c.get('config').MAX_BODY_BYTES)
  let json: unknown = {}
  try {
    if (text.trim()) json = JSON.parse(text)
  } catch {
    return null
  }
  const parsed = schema.safeParse(json)
  return parsed.success ? parsed.data : null
}

export const localQueues = new Hono<AppEnv>()
  .use(async (c, next) => {
    if (!isLocalQueueShimEnabled(c.get('config'))) throw new ApiError('not_found', 'Unknown route.', { code: 'unknown_route' })
    const header = c.req.header('authorization') ?? ''
    const token = header.startsWith('Bearer ') ? header.slice(7) : ''
    const expected = c.get('config').RUNNER_TOKEN
    if (!token || !expected || !(await tokensMatch(token, expected))) return cfError(c, 401, 10000, 'Authentication error')
    await next()
  })
  .post('/client/v4/accounts/:account/queues/:queue/messages/pull', async (c) => {
    const shim = queueShim(c.env, c.req.param('queue'))
    if (!shim) return queueNotFound(c)
    const request = await readBody(c, pullRequestSchema)
    if (!request) return cfError(c, 400, 10001, 'Invalid pull request body (batch_size 1-100, visibility_timeout_ms up to 12 h)')
    const result = await shim.pull(pullOptions(request))
    return c.json({ success: true, errors: [], messages: [], result })
  })
  .post('/client/v4/accounts/:account/queues/:queue/messages/ack', async (c) => {
    const shim = queueShim(c.env, c.req.param('queue'))
    if (!shim) return queueNotFound(c)
    const request = await readBody(c, ackRequestSchema)
    if (!request) return cfError(c, 400, 10001, 'Invalid ack request body ({acks: [{lease_id}], retries: [{lease_id, delay_seconds}]})')
    const result = await shim.ack({
      acks: request.acks.map((a) => a.lease_id),
      retries: request.retries.map((r) => ({ leaseId: r.lease_id, delaySeconds: r.delay_seconds ?? 0 })),
    })
    return c.json({ success: true, errors: [], messages: [], result })
  })
