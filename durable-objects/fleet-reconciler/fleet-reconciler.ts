// One object per fleet (`fleet:<model>`): keeps min_ready ready nodes of the model. Every reconcile reads the fleet
// and its nodes from D1, asks planFleet what to do, and does it: launch (claimed in D1 under max_nodes, then the
// launch message and the node's monitor), re-send a launch the runner never took, terminate failed nodes, forget
// terminated ones. Reconciles of a fleet run one at a time (callers arriving meanwhile share the next run), so
// decisions never interleave; the D1 claim bounds max_nodes even if they did (fleet-store.ts). Triggered by the
// admin API, the cron (every minute), node status changes (nudge) and its own alarm.
import { DurableObject } from 'cloudflare:workers'
import { log } from '../../workers/src/log.ts'
import { guardDurableObject } from '../../workers/src/platform/guard.ts'
import type { NodeOpMessage, TerminateMessage } from '../../workers/src/schemas/node-ops.ts'
import type { FleetAction, FleetReconcilerRpc, ReconcileReport, ReconcileTrigger } from './contract.ts'
import { initialPlanState, nextTypicalReadyMs, planFleet, type PlanState, type PlannedAction } from './fleet-plan.ts'
import { claimLaunch, fleetTarget, forgetNode, readFleet, readFleetNodes, recordTypicalReadyMs, writeAudit, type FleetRecord } from './fleet-store.ts'

const STATE_KEY = 'plan'
const MODEL_KEY = 'model'
/** Alarm cadence: while the fleet is short of ready nodes or has launches in flight, and when it is steady. */
export const BUSY_INTERVAL_MS = 15_000
export const STEADY_INTERVAL_MS = 5 * 60_000

export class FleetReconciler extends DurableObject<Env> implements FleetReconcilerRpc {
  private running: Promise<ReconcileReport> | null = null
  private queued: Promise<ReconcileReport> | null = null

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    guardDurableObject(this, ctx, env) // production's limits in tests (each call is one invocation)
  }

  /** At most one run at a time; any number of callers during a run share the one run after it (it sees their change). */
  reconcile(model: string, trigger: ReconcileTrigger): Promise<ReconcileReport> {
    this.ctx.storage.kv.put(MODEL_KEY, model)
    if (!this.running) return this.start(model, trigger)
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null
        return this.start(model, trigger)
      })
    return this.queued
  }

  async nudge(model: string, trigger: ReconcileTrigger): Promise<void> {
    this.ctx.storage.kv.put(MODEL_KEY, model)
    log.info('fleet_nudged', { model, trigger })
    await this.ctx.storage.setAlarm(Date.now())
  }

  async stop(): Promise<void> {
    await this.ctx.storage.deleteAlarm()
    await this.ctx.storage.deleteAll()
  }

  override async alarm(): Promise<void> {
    const model = this.ctx.storage.kv.get<string>(MODEL_KEY)
    if (model) await this.reconcile(model, 'alarm')
  }

  private start(model: string, trigger: ReconcileTrigger): Promise<ReconcileReport> {
    const run = this.run(model, trigger).finally(() => {
      if (this.running === run) this.running = null
    })
    this.running = run
    return run
  }

  private async run(model: string, trigger: ReconcileTrigger): Promise<ReconcileReport> {
    const fleet = await readFleet(this.env.DB, model)
    if (!fleet) {
      await this.stop() // deleted (or never a fleet: a nudge for an admin-launched node's model)
      return { model, managed: false, ready: 0, pending: 0, live: 0, actions: [] }
    }
    const nodes = await readFleetNodes(this.env.DB, model)
    const state = this.ctx.storage.kv.get<PlanState>(STATE_KEY) ?? initialPlanState()
    const now = Date.now()
    const plan = planFleet(fleet, nodes, state, now)
    let next = plan.next
    const done: ReconcileReport['actions'] = []
    let launchSeq = fleet.launchSeq
    for (const action of plan.actions) {
      const result = await this.act({ ...fleet, launchSeq }, action, trigger, now)
      if (!result) continue
      done.push({ action: result.action, cluster_name: result.clusterName })
      if (result.action === 'launch') launchSeq++
      if (action.kind === 'terminate_failed') next = { ...next, terminateSentAt: { ...next.terminateSentAt, [action.node.id]: now } }
      if (action.kind === 'resend_launch') next = { ...next, launchSentAt: { ...next.launchSentAt, [action.node.id]: now } }
    }
    if (plan.readyDurationsMs.length > 0) {
      const typical = nextTypicalReadyMs(fleet.typicalReadyMs, plan.readyDurationsMs)
      if (typical !== null) await recordTypicalReadyMs(this.env.DB, model, typical)
    }
    this.ctx.storage.kv.put(STATE_KEY, next)
    const launched = done.filter((a) => a.action === 'launch').length
    const isBusy = plan.counts.pending + launched > 0 || plan.counts.ready < fleet.minReady || plan.counts.live > plan.counts.ready + plan.counts.pending
    await this.ctx.storage.setAlarm(now + (isBusy ? BUSY_INTERVAL_MS : STEADY_INTERVAL_MS))
    if (done.length > 0) log.info('fleet_reconciled', { model, trigger, ...plan.counts, actions: done })
    return { model, managed: true, ready: plan.counts.ready, pending: plan.counts.pending + launched, live: plan.counts.live + launched, actions: done }
  }

  /** Does one planned action; null when it did nothing (a launch claim lost to max_nodes or a concurrent claim). */
  private async act(
    fleet: FleetRecord,
    action: PlannedAction,
    trigger: ReconcileTrigger,
    now: number,
  ): Promise<{ action: FleetAction; clusterName: string | null } | null> {
    const target = fleetTarget(fleet.model)
    switch (action.kind) {
      case 'launch': {
        const claim = await claimLaunch(this.env.DB, fleet, { placement: action.placement, useSpot: action.useSpot, trigger }, now)
        if (!claim.claimed) return null
        // A failed send leaves the node queued with no message: resend_launch sends it again (same cluster name).
        await this.send(claim.message)
        await this.watch(claim.message.node_id)
        return { action: 'launch', clusterName: claim.message.cluster_name }
      }
      case 'resend_launch': {
        const spec = (await readFleetNodes(this.env.DB, fleet.model)).find((n) => n.id === action.node.id)?.spec
        if (!spec) return null
        await writeAudit(this.env.DB, { action: 'fleet.resend_launch', target, after: { cluster_name: action.node.name, node_id: action.node.id } }, now)
        await this.send({ op: 'launch', cluster_name: action.node.name, node_id: action.node.id, spec, requested_at: now })
        return { action: 'resend_launch', clusterName: action.node.name }
      }
      case 'terminate_failed': {
        const message: TerminateMessage = { op: 'terminate', cluster_name: action.node.name, node_id: action.node.id, requested_at: now }
        await writeAudit(this.env.DB, { action: 'fleet.terminate_failed', target, after: { cluster_name: action.node.name, node_id: action.node.id } }, now)
        await this.send(message)
        return { action: 'terminate_failed', clusterName: action.node.name }
      }
      case 'forget':
        return (await forgetNode(this.env.DB, fleet.model, action.node, now)) ? { action: 'forget', clusterName: action.node.name } : null
      case 'blocked_max_nodes':
        await writeAudit(
          this.env.DB,
          { action: 'fleet.blocked_max_nodes', target, after: { wanted: action.wanted, live: action.live, max_nodes: fleet.maxNodes } },
          now,
        )
        return { action: 'blocked_max_nodes', clusterName: null }
      case 'fallback_on_demand':
        await writeAudit(this.env.DB, { action: 'fleet.fallback_on_demand', target, after: { spot_capacity_failures: action.failures } }, now)
        return { action: 'fallback_on_demand', clusterName: null }
      default: {
        const unreachable: never = action
        throw new Error(`unhandled fleet action ${JSON.stringify(unreachable)}`)
      }
    }
  }

  private async send(message: NodeOpMessage): Promise<void> {
    try {
      await this.env.NODE_OPS.send(message, { contentType: 'json' })
    } catch (err) {
      log.error('fleet_node_ops_send_failed', { error: String(err) }) // re-sent by a later reconcile
    }
  }

  /** The node's monitor watches it from the launch on (launch deadline, tear-down of a failed launch). */
  private async watch(nodeId: string): Promise<void> {
    try {
      await this.env.NODE_MONITOR.getByName(`node:${nodeId}`).start(nodeId)
    } catch (err) {
      log.error('node_monitor_start_failed', { nodeId, error: String(err) })
    }
  }
}
