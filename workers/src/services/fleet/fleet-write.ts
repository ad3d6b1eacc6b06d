// The writes of a fleet's desired state as both front doors do them: PUT/DELETE /admin/fleet/:model (admin
// token, actor `admin`) and PUT/DELETE /dashboard/api/fleets/:model (an operator's console session, actor
// `user:<email>`). One place for the model check, the launch policy, the write, the first reconcile and the answer.
import type { Db } from '../../db/client.ts'
import { ApiError } from '../../errors.ts'
import { type FleetDesired, fleetModelSchema, fleetPolicyProblem } from '../../schemas/fleet.ts'
import type { Actor } from '../tenants/tenants.ts'
import { deleteFleet, fleetView, putFleet, reconcileNow, stopReconciler } from './fleet-store.ts'

/** The path's model id (already URL-decoded by Hono: `Qwen%2FQwen2.5-7B-Instruct` is `Qwen/Qwen2.5-7B-Instruct`), checked. */
export function checkedFleetModel(model: string): string {
  if (!fleetModelSchema.safeParse(model).success) {
    throw new ApiError('invalid_request', `Invalid model id '${model}': letters, digits and ._/:- only (URL-encode the '/').`, {
      code: 'invalid_model',
      param: 'model',
    })
  }
  return model
}

/** Checks the placements against the launch policy, writes (audited), reconciles once; the view and whether it was created. */
export async function writeFleet(env: Env, db: Db, model: string, desired: FleetDesired, by: Actor) {
  const problem = fleetPolicyProblem(model, desired)
  if (problem)
    throw new ApiError('invalid_request', `Invalid request: '${problem.param}': ${problem.message}`, { code: 'invalid_request', param: problem.param })
  const created = await putFleet(db, model, desired, by)
  const reconcile = await reconcileNow(env, model)
  return { created, view: { ...(await fleetView(db, model)), reconcile } }
}

/** Stops managing the fleet (audited); its nodes stay and are terminated by hand. */
export async function removeFleet(env: Env, db: Db, model: string, by: Actor) {
  await deleteFleet(db, model, by)
  await stopReconciler(env, model)
  return { object: 'fleet.deleted' as const, model, deleted: true as const }
}
