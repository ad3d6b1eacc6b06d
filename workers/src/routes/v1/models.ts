// GET /v1/models: the models that ready nodes serve, and the models of fleets (served again soon while none of
// their nodes is ready: requests get 503 + Retry-After, not 404), in OpenAI's list format.
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { admitRequest } from '../../services/admission/admit-request.ts'
import { fleetModelIds } from '../../services/fleet/fleet-routing.ts'
import { listNodes } from '../../services/nodes/node-directory.ts'

export const models = new Hono<AppEnv>().get('/models', async (c) => {
  const admission = await admitRequest(c.env, c.get('identity'), { waitUntil: (p) => c.executionCtx.waitUntil(p) }) // counts toward requests per minute, holds no tokens
  const nodes = await listNodes(createDb(c.env.DB), c.get('config').SECRETS_KEY, (p) => c.executionCtx.waitUntil(p))
  const fleets = await fleetModelIds({ env: c.env, waitUntil: (p) => c.executionCtx.waitUntil(p) })
  const ids = [...new Set([...nodes.filter((n) => n.status === 'ready').flatMap((n) => n.models), ...fleets])].sort()
  return c.json({ object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'cic' })) }, 200, admission.headers)
})
