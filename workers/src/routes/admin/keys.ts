// Admin: revoke an API key (effective on the very next request, everywhere).
import { Hono } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { getKey, keyView, revokeKey } from '../../services/keys/key-admin.ts'

export const adminKeys = new Hono<AppEnv>().delete('/keys/:id', async (c) => {
  const db = createDb(c.env.DB)
  const key = await getKey(db, c.req.param('id'))
  if (!key) throw new ApiError('not_found', `No API key with id '${c.req.param('id')}'.`, { code: 'key_not_found', param: 'id' })
  return c.json(keyView(await revokeKey(c.env, db, key, { actor: 'admin', requestId: c.get('requestId') })))
})
