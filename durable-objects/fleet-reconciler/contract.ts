// What callers may import from the FleetReconciler (and nothing else under durable-objects/fleet-reconciler/): the
// object's name for a fleet's model, the RPC shapes, and `nudgeFleet`, which the NodeMonitor (a node failed) and
// the Worker (a runner report, the cron, an admin change) call so recovery needs no admin. The class is wired in
// workers/src/index.ts.

/** One object per fleet, named by the fleet's model id (ids contain `/`; a DO name may hold any string). */
export const fleetReconcilerName = (model: string) => `fleet:${model}`

/** Why a reconcile ran: logged, and kept in the audit rows of the actions it took. */
export type ReconcileTrigger = 'admin' | 'cron' | 'alarm' | 'node_failed' | 'node_terminated' | 'preemption_notice' | 'test'

/** Reconciler actions; each is an audit row (actor `reconciler`) and a `cic_fleet_reconcile_actions_total{action}` label. */
export const FLEET_ACTIONS = ['launch', 'resend_launch', 'terminate_failed', 'forget', 'blocked_max_nodes', 'fallback_on_demand'] as const
export type FleetAction = (typeof FLEET_ACTIONS)[number]

export type ReconcileReport = {
  model: string
  /** False when the model has no fleet (deleted, or never had one): nothing was done. */
  managed: boolean
  ready: number
  pending: number
  /** Fleet clusters not yet terminated (what max_nodes bounds). */
  live: number
  actions: { action: FleetAction; cluster_name: string | null }[]
}

/** The RPC surface (checked by `satisfies` in the class file). */
export interface FleetReconcilerRpc {
  /** Decides and acts now (serialized with every other reconcile of this fleet), then arms the alarm. */
  reconcile(model: string, trigger: ReconcileTrigger): Promise<ReconcileReport>
  /** Asks for a reconcile soon (the alarm, at once): returns without waiting for it. */
  nudge(model: string, trigger: ReconcileTrigger): Promise<void>
  /** The fleet was deleted: forget this object's state and stop its alarm. Its nodes are left as they are. */
  stop(): Promise<void>
}

/** Best effort: a lost nudge is made up by the cron (every minute) and the object's own alarm. */
export async function nudgeFleet(env: Env, model: string, trigger: ReconcileTrigger): Promise<void> {
  await env.FLEET_RECONCILER.getByName(fleetReconcilerName(model)).nudge(model, trigger)
}
