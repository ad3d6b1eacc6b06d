// One object per node (`node:<id>`): the authority on the node's circuit breaker, its health and its load.
// Its alarm checks `/health` and scrapes `/metrics` every NODE_HEALTH_INTERVAL_MS while the node is
// registered, and moves the node's status in D1 (warming → ready, ready → failed, draining → gone). For a node
// CIC launched it also runs from the launch on: a launch past NODE_LAUNCH_TIMEOUT_MS, or a launched node lost
// to health checks (spot preemption), is failed and its terminate queued (launch-watch.ts). The Worker
// reports request outcomes here off the response path and reads snapshots into a short per-isolate cache.
// The decisions live in breaker-state.ts and node-lifecycle.ts; this class stores and schedules.
import { DurableObject } from 'cloudflare:workers'
import { guardDurableObject } from '../../workers/src/platform/guard.ts'
import { createDb } from '../../workers/src/db/client.ts'
import { log } from '../../workers/src/log.ts'
import { recordNodeCounters } from '../../workers/src/db/node-counters.ts'
import { grantProbe, recordOutcome, releaseProbe, advanceBreaker, type Outcome } from './breaker-state.ts'
import { loadMonitorConfig, type MonitorConfig } from './monitor-config.ts'
import { initialMonitorState, snapshotOf, type BreakerPatch, type MonitorState, type NodeSnapshot } from './monitor-state.ts'
import { watchLaunch } from './launch-watch.ts'
import { applyCheck, FINAL_STATUSES, nextLifecycle, type LifecycleStep } from './node-lifecycle.ts'
import { readNodeRecord, removeDrainedNode, setNodeStatus, type NodeRecord } from './node-record.ts'
import { probeNode } from './probe-node.ts'
import type { NodeTokenCounters } from './vllm-metrics.ts'
import type { TerminateMessage } from '../../workers/src/schemas/node-ops.ts'
import { nudgeFleet } from '../fleet-reconciler/contract.ts'

const STATE_KEY = 'state'
/** Reconciliation compares counters over hours: a sample a minute is plenty and keeps the table small. */
const COUNTER_SAMPLE_INTERVAL_MS = 60_000

export class NodeMonitor extends DurableObject<Env> {
  private state: MonitorState
  private readonly config: MonitorConfig
  private ticking: Promise<void> | null = null
  private countersSampledAt = 0

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    guardDurableObject(this, ctx, env) // production's limits in tests (each call is one invocation)
    this.config = loadMonitorConfig(env)
    this.state = ctx.storage.kv.get<MonitorState>(STATE_KEY) ?? initialMonitorState(Date.now())
  }

  /** Starts (or restarts) monitoring: one check right now, then one every interval. Idempotent. */
  async start(nodeId: string): Promise<NodeSnapshot> {
    this.adopt(nodeId)
    await this.checkNow()
    return this.current()
  }

  /**
   * The current state. A node that was never started (its row written by someone who did not call
   * startNodeMonitor) gets its monitoring scheduled here, so every routed node ends up monitored.
   */
  async snapshot(nodeId?: string): Promise<NodeSnapshot> {
    if (nodeId && this.state.nodeId === null) {
      this.adopt(nodeId)
      if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + this.config.NODE_HEALTH_INTERVAL_MS)
    }
    return this.current()
  }

  async recordOutcome(outcome: Outcome): Promise<NodeSnapshot> {
    const now = Date.now()
    const next = recordOutcome(this.state.breaker, this.state.breakerConfig, outcome, now)
    if (next !== this.state.breaker) this.save({ ...this.state, breaker: next })
    return snapshotOf(this.state, now)
  }

  /** Half-open: lets one more probe request through if a slot is free. */
  async acquireProbe(): Promise<{ granted: boolean; snapshot: NodeSnapshot }> {
    const now = Date.now()
    const { granted, next } = grantProbe(this.state.breaker, this.state.breakerConfig, now)
    this.save({ ...this.state, breaker: next })
    return { granted, snapshot: snapshotOf(this.state, now) }
  }

  /** A granted probe's client went away before the node answered: the slot is free again. */
  async releaseProbe(): Promise<void> {
    const next = releaseProbe(advanceBreaker(this.state.breaker, Date.now()))
    if (next !== this.state.breaker) this.save({ ...this.state, breaker: next })
  }

  async configureBreaker(patch: BreakerPatch): Promise<NodeSnapshot> {
    this.save({ ...this.state, breakerConfig: { ...this.state.breakerConfig, ...patch } })
    return snapshotOf(this.state, Date.now())
  }

  /** The node was set draining for removal: it is removed once idle (checked now and at each alarm). */
  async requestRemoval(nodeId: string): Promise<{ removed: boolean; snapshot: NodeSnapshot }> {
    this.adopt(nodeId)
    if (!this.state.removal) this.save({ ...this.state, removal: { requestedAt: Date.now() } })
    await this.checkNow()
    return { removed: this.state.status === 'gone', snapshot: this.current() }
  }

  /**
   * A launched node was set draining to be terminated: once idle (or unreachable, or after the drain timeout)
   * the terminate message goes to the node-ops queue, so `sky down` never cuts requests still running on it.
   */
  async requestTermination(nodeId: string, message: TerminateMessage): Promise<NodeSnapshot> {
    this.adopt(nodeId)
    this.save({ ...this.state, removal: { requestedAt: this.state.removal?.requestedAt ?? Date.now(), terminate: message } })
    await this.checkNow()
    return this.current()
  }

  /** The node was put back into service (resume, status warming): forget a pending removal and check it at once. */
  async resume(nodeId: string): Promise<NodeSnapshot> {
    this.adopt(nodeId)
    this.save({ ...this.state, removal: null, isFailedByMonitor: false })
    await this.checkNow()
    return this.current()
  }

  override async alarm(): Promise<void> {
    await this.checkNow()
  }

  /**
   * One check, from the alarm or an RPC. If it throws (D1 outage, a bug), the next check is scheduled anyway:
   * without an alarm the node would never be checked again. An RPC caller gets the state as it is (what it asked
   * for, e.g. a terminate, is stored and acted on by that alarm).
   */
  private async checkNow(): Promise<void> {
    try {
      await this.tick()
    } catch (err) {
      log.error('node_monitor_check_failed', { nodeId: this.state.nodeId, error: String(err) })
      await this.scheduleNext()
    }
  }

  private current(): NodeSnapshot {
    return snapshotOf(this.state, Date.now())
  }

  private adopt(nodeId: string): void {
    if (this.state.nodeId !== nodeId) this.save({ ...this.state, nodeId })
  }

  private save(next: MonitorState): void {
    this.state = next
    this.ctx.storage.kv.put(STATE_KEY, next)
  }

  /** One check; concurrent callers (alarm, start, removal) share the one in progress. */
  private tick(): Promise<void> {
    this.ticking ??= this.check().finally(() => {
      this.ticking = null
    })
    return this.ticking
  }

  private async check(): Promise<void> {
    const nodeId = this.state.nodeId
    if (!nodeId) return
    const node = await readNodeRecord(this.env.DB, this.config.SECRETS_KEY, nodeId)
    if (!node || FINAL_STATUSES.has(node.status)) return this.stop(node?.status ?? 'gone')
    if (node.launch && !(await this.superviseLaunch(node, node.launch.attempts))) return
    const check = await probeNode({ endpoint: node.endpoint, apiKey: node.apiKey, timeoutMs: this.config.NODE_HEALTH_TIMEOUT_MS })
    const now = Date.now()
    const health = applyCheck(this.state.health, check, now, this.config.NODE_UNHEALTHY_AFTER)
    this.save({ ...this.state, status: node.status, health, load: check.ok && check.load ? check.load : this.state.load })
    if (check.ok && check.counters) await this.sampleCounters(nodeId, check.counters, now)
    const step = nextLifecycle(
      { status: node.status, check, health, removal: this.state.removal, isFailedByMonitor: this.state.isFailedByMonitor, now },
      {
        unhealthyAfter: this.config.NODE_UNHEALTHY_AFTER,
        drainMinMs: this.config.NODE_DRAIN_MIN_MS,
        drainTimeoutMs: this.config.NODE_DRAIN_TIMEOUT_MS,
      },
    )
    await this.apply(node, step, now)
  }

  private async apply(node: NodeRecord, step: LifecycleStep, now: number): Promise<void> {
    switch (step.kind) {
      case 'stay':
        return this.scheduleNext()
      case 'stop':
        return this.stop(node.status)
      case 'set_status': {
        // A launched node lost to health checks (preemption) is torn down rather than revived later.
        if (node.launch && step.to === 'failed') return this.failLaunched(node, step.from, step.reason, now)
        if (await setNodeStatus(this.env.DB, node, step.from, step.to, step.reason, now)) {
          this.save({ ...this.state, status: step.to, isFailedByMonitor: step.to === 'failed' })
        }
        return this.scheduleNext()
      }
      case 'remove': {
        const terminate = this.state.removal?.terminate
        if (terminate) return this.sendTerminate(terminate, step.reason)
        if (await removeDrainedNode(this.env.DB, node, step.reason, now)) return this.stop('gone')
        return this.scheduleNext()
      }
      default: {
        const unreachable: never = step
        throw new Error(`unhandled lifecycle step ${JSON.stringify(unreachable)}`)
      }
    }
  }

  /**
   * The launch side of a launched node's check; true when the usual health check should follow. A pending
   * terminate belongs to the failure it was made for: once the node is relaunched (queued), it is dropped.
   */
  private async superviseLaunch(node: NodeRecord, attempt: number): Promise<boolean> {
    const now = Date.now()
    const pending = node.status === 'failed' ? (this.state.pendingTerminate ?? null) : null
    const { step, watch } = watchLaunch(
      { status: node.status, attempt, watch: this.state.launchWatch ?? null, hasPendingTerminate: pending !== null, now },
      this.config.NODE_LAUNCH_TIMEOUT_MS,
    )
    this.save({ ...this.state, status: node.status, launchWatch: watch, pendingTerminate: pending })
    switch (step.kind) {
      case 'probe':
        return true
      case 'wait':
        await this.scheduleNext()
        return false
      case 'fail':
        await this.failLaunched(node, step.from, step.reason, now)
        return false
      case 'terminate':
        if (pending) await this.sendFailedTerminate(pending)
        return false
      case 'stop':
        await this.stop(node.status)
        return false
      default: {
        const unreachable: never = step
        throw new Error(`unhandled launch step ${JSON.stringify(unreachable)}`)
      }
    }
  }

  /** Fails a launched node (compare-and-set, audited) and queues its terminate: `sky down`, no A100 left behind. */
  private async failLaunched(node: NodeRecord, from: string, reason: string, now: number): Promise<void> {
    if (!(await setNodeStatus(this.env.DB, node, from, 'failed', reason, now))) return this.scheduleNext()
    const terminate: TerminateMessage = { op: 'terminate', cluster_name: node.name, node_id: node.id, requested_at: now }
    // Not failed "by the monitor" in the reviving sense: its cluster goes away, only a relaunch brings it back.
    this.save({ ...this.state, status: 'failed', isFailedByMonitor: false, launchWatch: null, pendingTerminate: terminate })
    log.warn('node_launched_failed', { nodeId: node.id, clusterName: node.name, reason })
    await this.nudgeFleets(node)
    return this.sendFailedTerminate(terminate)
  }

  /** A launched node failed: its model's fleet (if it has one) launches a replacement now, not at its next alarm. */
  private async nudgeFleets(node: NodeRecord): Promise<void> {
    for (const model of node.models) {
      try {
        await nudgeFleet(this.env, model, 'node_failed')
      } catch (err) {
        log.warn('fleet_nudge_failed', { nodeId: node.id, model, error: String(err) }) // the fleet's alarm and cron catch up
      }
    }
  }

  private async sendFailedTerminate(message: TerminateMessage): Promise<void> {
    try {
      await this.env.NODE_OPS.send(message, { contentType: 'json' })
      log.info('node_terminate_sent', { nodeId: message.node_id, clusterName: message.cluster_name, reason: 'failed' })
      this.save({ ...this.state, pendingTerminate: null })
      return this.stop('failed') // the runner takes it from here; a relaunch starts this monitor again
    } catch (err) {
      log.error('node_terminate_send_failed', { nodeId: message.node_id, error: String(err) })
      return this.scheduleNext()
    }
  }

  /**
   * At most one sample a minute of the node's own token counters, for the usage reconciliation report. Kept in
   * memory only: after an eviction one extra sample is harmless (samples are idempotent per node and time).
   */
  private async sampleCounters(nodeId: string, counters: NodeTokenCounters, now: number): Promise<void> {
    if (now - this.countersSampledAt < COUNTER_SAMPLE_INTERVAL_MS) return
    try {
      await recordNodeCounters(createDb(this.env.DB), nodeId, { at: now, ...counters })
      this.countersSampledAt = now
    } catch (err) {
      log.warn('node_counters_sample_failed', { nodeId, error: String(err) }) // the next check tries again
    }
  }

  /** The runner reports terminating/terminated next, which ends monitoring; a failed send is retried next check. */
  private async sendTerminate(message: TerminateMessage, reason: string): Promise<void> {
    try {
      await this.env.NODE_OPS.send(message, { contentType: 'json' })
      log.info('node_terminate_sent', { nodeId: message.node_id, clusterName: message.cluster_name, reason })
      this.save({ ...this.state, removal: null }) // done: a later relaunch of this node starts clean
      return this.stop('draining')
    } catch (err) {
      log.error('node_terminate_send_failed', { nodeId: message.node_id, error: String(err) })
      return this.scheduleNext()
    }
  }

  private async scheduleNext(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + this.config.NODE_HEALTH_INTERVAL_MS)
  }

  private async stop(status: string): Promise<void> {
    await this.ctx.storage.deleteAlarm()
    if (status !== 'gone') return this.save({ ...this.state, status })
    // Removed from the fleet: nothing here is worth keeping (the audit log has the node's last state).
    await this.ctx.storage.deleteAll()
    this.state = { ...initialMonitorState(Date.now()), status: 'gone' }
  }
}
