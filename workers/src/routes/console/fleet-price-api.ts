// Console JSON API for operators (/dashboard/api): fleets (desired against actual; write and delete the desired
// state) and the price book (every model's prices; write a version). Operator only, checked first on every route;
// writes pass the console's CSRF check (routes/dashboard.ts) and go through the admin API's own services
// (services/fleet/fleet-write.ts, services/billing/price-book.ts) with `user:<email>` as the audit actor, so the
// answers are the admin API's shapes. Model ids are URL-encoded in the path (they contain '/'); Hono decodes them.
import { type Context, Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { fleetDesiredSchema } from '../../schemas/fleet.ts'
import { putPriceSchema } from '../../schemas/prices.ts'
import { checkedPriceModel, listAllPrices, setPrice } from '../../services/billing/price-book.ts'
import { requireOperator } from '../../services/console/authz.ts'
import { userActor } from '../../services/console/users.ts'
import { fleetView, listFleetViews } from '../../services/fleet/fleet-store.ts'
import { checkedFleetModel, removeFleet, writeFleet } from '../../services/fleet/fleet-write.ts'
import { readJsonBody } from '../read-body.ts'
import { principalOf } from './console-auth.ts'

const operatorOnly = createMiddleware<AppEnv>(async (c, next) => {
  requireOperator(principalOf(c))
  await next()
})

const actorOf = (c: Context<AppEnv>) => userActor(principalOf(c).user, c.get('requestId'))
const fleetModel = (c: Context<AppEnv>) => checkedFleetModel(c.req.param('model') ?? '')

export const fleetPriceApi = new Hono<AppEnv>()
  // Every route of this sub-app is operator-only (one check per path pattern; the roles test calls each route).
  .use('/fleets', operatorOnly)
  .use('/fleets/*', operatorOnly)
  .use('/prices', operatorOnly)
  .use('/prices/*', operatorOnly)
  .get('/fleets', async (c) => c.json(await listFleetViews(createDb(c.env.DB))))
  .get('/fleets/:model', async (c) => c.json(await fleetView(createDb(c.env.DB), fleetModel(c))))
  .put('/fleets/:model', async (c) => {
    const model = fleetModel(c)
    const desired = await readJsonBody(c, fleetDesiredSchema)
    const { created, view } = await writeFleet(c.env, createDb(c.env.DB), model, desired, actorOf(c))
    return c.json(view, created ? 201 : 200)
  })
  .delete('/fleets/:model', async (c) => c.json(await removeFleet(c.env, createDb(c.env.DB), fleetModel(c), actorOf(c))))
  .get('/prices', async (c) => c.json(await listAllPrices(createDb(c.env.DB))))
  .put('/prices/:model', async (c) => {
    const model = checkedPriceModel(c.req.param('model') ?? '')
    const input = await readJsonBody(c, putPriceSchema)
    return c.json(await setPrice(createDb(c.env.DB), model, input, actorOf(c)))
  })
