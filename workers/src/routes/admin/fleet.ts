// Admin: a model's fleet, its desired state (PUT), desired against actual (GET), all fleets, and DELETE (stop
// managing; the nodes stay and are terminated by hand). The model id is URL-encoded in the path (ids contain `/`).
import { Hono, type Context } from 'hono'
import { createDb } from '../../db/client.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError } from '../../errors.ts'
import { fleetDesiredSchema, fleetModelSchema, fleetPolicyProblem } from '../../schemas/fleet.ts'
import { deleteFleet, fleetView, listFleetViews, putFleet, reconcileNow, stopReconciler } from '../../services/fleet/fleet-store.ts'
import { readJsonBody } from '../read-body.ts'

function modelParam(c: Context<AppEnv>): string {
  const model = c.req.param('model') ?? '' // decoded by Hono: `Qwen%2FQwen2.5-7B-Instruct` is `Qwen/Qwen2.5-7B-Instruct`
  if (!fleetModelSchema.safeParse(model).success) {
    throw new ApiError('invalid_request', `Invalid model id '${model}': letters, digits and ._/:- only (URL-encode the '/').`, {
      code: 'invalid_model',
      param: 'model',
    })
  }
  return model
}

const actor = (c: Context<AppEnv>) => ({ actor: 'admin', requestId: c.get('requestId') })

export const adminFleet = new Hono<AppEnv>()
  .get('/fleet', async (c) => c.json(await listFleetViews(createDb(c.env.DB))))
  .put('/fleet/:model', async (c) => {
    const model = modelParam(c)
    const desired = await readJsonBody(c, fleetDesiredSchema)
    const problem = fleetPolicyProblem(model, desired)
    if (problem)
      throw new ApiError('invalid_request', `Invalid request: '${problem.param}': ${problem.message}`, { code: 'invalid_request', param: problem.param })
    const db = createDb(c.env.DB)
    const created = await putFleet(db, model, desired, actor(c))
    const reconcile = await reconcileNow(c.env, model)
    return c.json({ ...(await fleetView(db, model)), reconcile }, created ? 201 : 200)
  })
  .get('/fleet/:model', async (c) => c.json(await fleetView(createDb(c.env.DB), modelParam(c))))
  .delete('/fleet/:model', async (c) => {
    const model = modelParam(c)
    await deleteFleet(createDb(c.env.DB), model, actor(c))
    await stopReconciler(c.env, model)
    return c.json({ object: 'fleet.deleted', model, deleted: true })
  })
