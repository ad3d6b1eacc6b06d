// Admin: a model's fleet, its desired state (PUT), desired against actual (GET), all fleets, and DELETE (stop
// managing; the nodes stay and are terminated by hand). The model id is URL-encoded in the path (ids contain `/`).
// The console's operator routes (routes/console/fleet-price-api.ts) do the same through services/fleet/fleet-write.ts.
import { Hono, type Context } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { fleetDesiredSchema } from '../../schemas/fleet.ts'
import { fleetView, listFleetViews } from '../../services/fleet/fleet-store.ts'
import { checkedFleetModel, removeFleet, writeFleet } from '../../services/fleet/fleet-write.ts'
import { readJsonBody } from '../read-body.ts'

const modelParam = (c: Context<AppEnv>) => checkedFleetModel(c.req.param('model') ?? '')

const actor = (c: Context<AppEnv>) => ({ actor: 'admin', requestId: c.get('requestId') })

export const adminFleet = new Hono<AppEnv>()
  .get('/fleet', async (c) => c.json(await listFleetViews(createDb(c.env.DB))))
  .put('/fleet/:model', async (c) => {
    const model = modelParam(c)
    const desired = await readJsonBody(c, fleetDesiredSchema)
    const { created, view } = await writeFleet(c.env, createDb(c.env.DB), model, desired, actor(c))
    return c.json(view, created ? 201 : 200)
  })
  .get('/fleet/:model', async (c) => c.json(await fleetView(createDb(c.env.DB), modelParam(c))))
  .delete('/fleet/:model', async (c) => c.json(await removeFleet(c.env, createDb(c.env.DB), modelParam(c), actor(c))))
