// POST /nodes/preemption-notice: a launched node reports its cloud's preemption warning (services/fleet/
// preemption-notice.ts). Authenticated with the node's registration token: a malformed one is a 401 before any
// byte of the body is read.
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { preemptionNoticeSchema } from '../../schemas/fleet.ts'
import { acceptPreemptionNotice } from '../../services/fleet/preemption-notice.ts'
import { badRegistrationToken, REGISTER_TOKEN_FORMAT } from '../../services/nodes/node-registration.ts'
import { readJsonBody } from '../read-body.ts'

export const nodePreemptionNotice = new Hono<AppEnv>().post('/preemption-notice', async (c) => {
  const header = c.req.header('authorization') ?? ''
  const token = header.startsWith('Bearer ') ? header.slice(7).trim() : ''
  if (!REGISTER_TOKEN_FORMAT.test(token)) throw badRegistrationToken()
  const notice = await readJsonBody(c, preemptionNoticeSchema)
  const result = await acceptPreemptionNotice(c.env, createDb(c.env.DB), notice, token, c.get('requestId'))
  return c.json({ object: 'node.preemption_notice', ...result })
})
