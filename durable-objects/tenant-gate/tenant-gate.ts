// One object per tenant (`tenant:<id>`): the single authority on whether a tenant's request may run. The
// gateway calls admit once per request (key, status, request/token/concurrency limits and budget, decided in
// one call), renew while the request runs, and settle once when an admitted request ends; the admin API
// calls configure and revokeKey. The arithmetic is in admission-ledger.ts. What is money (budgets, and the
// entries holding them) is written to SQLite in the same synchronous turn as the decision, so an evicted object
// comes back with the same budgets; rate windows and concurrency leases of tenants without a budget live in
// memory only (isDurable), so their admissions write nothing and do not wait for a storage commit.
import { DurableObject } from 'cloudflare:workers'
import { guardDurableObject } from '../../workers/src/platform/guard.ts'
import { AdmissionLedger, budgetPeriodOf, isDurable, WINDOW_MS, type Changes } from './admission-ledger.ts'
import { log } from '../../workers/src/log.ts'
import { BUDGET_THRESHOLD_ACTION, budgetCrossings, notifyNobody, type BudgetCrossing, type BudgetNotifier, type Committed } from './budget-alerts.ts'
import { GateStorage } from './gate-storage.ts'
import { GroupCommit } from './group-commit.ts'
import { hasBudget, requestLimits, tenantLimits, type LimitOverrides, type Limits } from './plans.ts'
import { simulatedDistance } from './simulated-distance.ts'
import { SliceBook } from './slice-book.ts'
import { budgetOf, type Counts, type LocationState } from './slices.ts'
import { answerExchange, takeReport, type Home } from './home-exchange.ts'
import { decideAdmission, type TenantState, type TenantStatus } from './tenant-state.ts'
import { DEFAULT_LEASE_TTL_MS, type AdmitInput, type AdmitResult, type ExchangeRequest, type ExchangeResult, type SettleInput } from './contract.ts'

/** How often the timer that keeps an object with in-memory state from hibernating re-checks that state. */
const RESIDENT_CHECK_MS = 20_000

/**
 * What one Worker isolate sends at once (services/admission/gate-channel.ts): the settles of its requests that
 * ended, applied first so their slots and refunds are free for the admissions that follow, in order.
 */
export type AdmitBatch = { admits: AdmitInput[]; settles: SettleInput[] }

export type TenantConfig = {
  tenantId: string
  status: TenantStatus
  statusReason: string | null
  /** Absent: keep the current plan. */
  plan?: string
  /** The tenant's overrides of its plan's limits (snake_case, as stored in D1). */
  limits: LimitOverrides
  /**
   * D1's tenants.updated_at of this configuration. A configuration older than the one in force is ignored, so
   * two writers pushing concurrently (admin PATCH, billing webhook) cannot leave the older one in force.
   * Absent or null: applied whatever the object has (a new tenant).
   */
  updatedAt?: number | null
}

export class TenantGate extends DurableObject<Env> {
  private readonly store: GateStorage
  private readonly batch: GroupCommit
  private readonly ledger = new AdmissionLedger()
  /**
   * What location objects hold of the limits (slices), beyond the ledger. Written per exchange (remember), with the
   * windowed units exchanges put into the ledger, and restored at start: a restarted home grants nothing twice.
   */
  private readonly slices = new SliceBook()
  private state: TenantState | null = null
  private limits: Limits = tenantLimits('default', {})
  /** When the alarm is set for (mirrors meta.alarm_at), null when none. */
  private alarmAt: number | null = null
  /** Armed while a lease lives in memory only (see stayResident). */
  private residentTimer: ReturnType<typeof setTimeout> | null = null
  /** Each budget month's committed amounts as last written: a write that passes 50/80/100 % reports it once. */
  private readonly committedWritten = new Map<string, Committed>()
  /** The seam for telling the tenant a threshold was crossed (an email; nothing is sent yet). */
  private readonly notifier: BudgetNotifier = notifyNobody

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    guardDurableObject(this, ctx, env) // production's limits in tests (each call is one invocation)
    this.store = new GateStorage(ctx.storage)
    this.batch = new GroupCommit()
    ctx.blockConcurrencyWhile(async () => {
      this.store.migrate()
      this.setState(this.store.readTenant())
      const now = Date.now()
      const budgets = this.store.readBudgets()
      this.ledger.restore(this.store.readEntries(now - WINDOW_MS), budgets, now)
      for (const [period, b] of budgets) this.committedWritten.set(period, { tokens: b.committed, microUsd: b.committedMicroUsd })
      this.alarmAt = this.store.readAlarmAt()
      this.slices.restore(this.store.readSliceAccounts(), this.store.readSliceRecorded(now - WINDOW_MS), now)
    })
  }

  async admit(input: AdmitInput): Promise<AdmitResult> {
    const [result] = await this.admitMany({ admits: [input], settles: [] })
    if (!result) throw new Error('admitMany returned no result')
    return result
  }

  /** Settles, then admissions decided one by one in order (each sees the ones before): one result per admit. */
  async admitMany(batch: AdmitBatch): Promise<AdmitResult[]> {
    const first = batch.admits[0]
    if (!this.state && first) await this.bootstrapFromD1(first.tenantId)
    const results = await this.decideNowOrInBatch(() => {
      for (const s of batch.settles) this.settleNow(s)
      return batch.admits.map((input) => this.decide(input))
    })
    this.stayResident()
    return results
  }

  /**
   * Ends a lease: frees its slot and replaces its reservation by the real usage (the rest is refunded at once).
   * Idempotent: false when the lease is unknown or already settled.
   */
  async settle(leaseId: string, usedTokens: number, usedMicroUsd?: number): Promise<boolean> {
    const [settled] = await this.settleMany([{ leaseId, usedTokens, usedMicroUsd }])
    return settled === true
  }

  /** settle for each, in order, in one batch. */
  async settleMany(settles: SettleInput[]): Promise<boolean[]> {
    const results = await this.decideNowOrInBatch(() => settles.map((s) => this.settleNow(s)))
    this.stayResident()
    return results
  }

  /**
   * A tenant with a budget writes its decisions, so calls arriving together wait for one batch and one commit.
   * Without one nothing is written: deciding at once spares every call the batch's timer turn (about 1 ms here).
   */
  private decideNowOrInBatch<T>(work: () => T): Promise<T> {
    return hasBudget(this.limits) ? this.batch.run(work) : Promise.resolve(work())
  }

  private settleNow({ leaseId, usedTokens, usedMicroUsd }: SettleInput): boolean {
    const used = Number.isFinite(usedTokens) && usedTokens > 0 ? Math.round(usedTokens) : 0
    const cost = usedMicroUsd === undefined ? undefined : Number.isFinite(usedMicroUsd) && usedMicroUsd > 0 ? Math.round(usedMicroUsd) : 0
    const changes = this.ledger.settle(leaseId, used, Date.now(), cost)
    if (changes) this.persist(changes)
    return changes !== null
  }

  /**
   * Keeps a running request's concurrency slot for another `ttlMs` (the gateway calls it while a long stream is
   * relayed). False when the lease is unknown, settled or already expired.
   */
  async renew(leaseId: string, ttlMs: number = DEFAULT_LEASE_TTL_MS): Promise<boolean> {
    return this.batch.run(() => {
      const changes = this.ledger.renew(leaseId, ttlMs, Date.now())
      if (changes) this.persist(changes)
      return changes !== null
    })
  }

  /** One admission decision, synchronous: everything it changes is written before the batch commits. */
  private decide(input: AdmitInput): AdmitResult {
    const identity = decideAdmission(this.state, input)
    if (!identity.ok) return identity
    const now = Date.now()
    const result = this.ledger.admit(
      {
        id: crypto.randomUUID(),
        keyId: input.keyId,
        reservation: input.reservation ?? null,
        leaseTtlMs: input.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
      },
      requestLimits(this.limits, input.keyLimits ?? {}),
      now,
      (counter) => this.slices.held(counter, now),
    )
    if (!result.ok) return result
    this.persist(result.changes)
    const { entry } = result
    if (isDurable(entry)) this.ensureAlarm(entry.isOpen ? entry.expiresAt : now + WINDOW_MS)
    // With a budget the completion granted may be smaller than the tpm charge (shrunk to the budget left).
    return {
      ok: true,
      leaseId: entry.isOpen ? entry.id : null,
      reservedTokens: entry.isOpen ? result.grantedTokens : 0,
      billCap: entry.isOpen ? result.billCap : null,
      rate: result.rate,
    }
  }

  /**
   * Replaces status, reason, plan and limit overrides (admin API, billing webhooks). Idempotent. False when
   * ignored: the object already has a newer configuration (by updatedAt).
   */
  async configure(config: TenantConfig): Promise<boolean> {
    const current = this.store.readTenantUpdatedAt()
    const updatedAt = config.updatedAt ?? null
    if (updatedAt !== null && current !== null && updatedAt < current) return false
    this.store.writeTenant({ ...config, plan: config.plan ?? this.state?.plan ?? 'default', updatedAt: updatedAt ?? current })
    this.setState(this.store.readTenant())
    await this.tellLocations()
    return true
  }

  /** Revokes a key here, then at every location holding a slice (see tellLocations). */
  async revokeKey(keyId: string): Promise<void> {
    this.store.revokeKey(keyId, Date.now())
    this.setState(this.store.readTenant())
    await this.tellLocations()
  }

  /**
   * A location's exchange (admission-location.ts): settles of leases it reported, its report (entries, what it
   * keeps), and more of each limit if it wants. README.md "Slices" says why the sums stay within every limit.
   */
  async exchange(req: ExchangeRequest): Promise<ExchangeResult> {
    if (!this.state) await this.bootstrapFromD1(req.tenantId)
    const state = this.locationState()
    if (!state) return { ok: false, reason: 'tenant_unknown' }
    this.chargeLapsedSlices(Date.now())
    const answer = answerExchange(this.home, state, req, Date.now())
    this.stayResident()
    return answer
  }

  /** The home's side of the slice protocol (home-exchange.ts), over this object's ledger and book. */
  private readonly home: Home = {
    ledger: this.ledger,
    slices: this.slices,
    limits: () => this.limits,
    settle: (s) => this.settleNow(s),
    decide: (input) => this.decide(input),
    // In the exchange's synchronous turn: the writes commit together and the answer waits for them (output gate;
    // platform-facts.md §2.1 "Input/output gates ... writes without intervening await coalesce atomically").
    remember: (instance, recorded, changes, now) => this.rememberExchange(instance, recorded, changes, now),
  }

  /**
   * An applied exchange made durable in its own synchronous turn: the budget entries it reported and the months'
   * budgets (thresholds fire from them, as for the home's own settles), the account, the windowed units it recorded.
   */
  private rememberExchange(instance: string, recorded: Counts, changes: Changes, now: number): void {
    if (changes.entries.length > 0 || changes.budgets.length > 0) {
      this.persist(changes)
      // Their leases are the home's now: the alarm charges one never settled after the grace, and prunes the rows.
      if (changes.entries.some(isDurable)) this.ensureAlarm(now + WINDOW_MS)
    }
    this.store.writeSliceExchange(this.slices.record(instance), this.slices.holdsBudget(instance), recorded, now, WINDOW_MS)
  }

  /**
   * Budget units of lost location instances (slice-book.ts lapse) charged for good: the account and the month's
   * committed change together, in the caller's synchronous turn. Until then they count as held, so this only moves them.
   */
  private chargeLapsedSlices(now: number): void {
    const lapsed = this.slices.lapse(now)
    for (const { instance, counter, units } of lapsed) {
      const budget = budgetOf(counter)
      if (budget) this.persist(this.ledger.commitLapsed(budget.period, budget.unit, units))
      this.store.writeSliceExchange(this.slices.record(instance), this.slices.holdsBudget(instance), {}, now, WINDOW_MS)
    }
  }

  /**
   * Tells every location that may still admit under a slice the new state (revocation, suspension, limits) and takes
   * back all their room; returns once each has answered, or once every slice has expired, whichever comes first.
   */
  private async tellLocations(): Promise<void> {
    const now = Date.now()
    const names = this.slices.usableLocations(now)
    const state = this.locationState()
    if (names.length === 0 || !state) return
    const tell = async (name: string) => {
      await simulatedDistance(this.env)
      const report = await this.env.ADMISSION_LOCATION.getByName(name).recall({ state })
      if (!report) return
      const now = Date.now()
      const { isNew, recorded, changes } = takeReport(this.home, report, now)
      if (isNew) this.home.remember?.(report.instance, recorded, changes, now)
    }
    const allTold = Promise.allSettled(names.map(tell))
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.slices.lastUseBy(now) - now)
    })
    await Promise.race([allTold, expired])
    clearTimeout(timer)
  }

  private locationState(): LocationState | null {
    if (!this.state) return null
    const { status, statusReason, plan, limits, revokedKeyIds } = this.state
    return { status, statusReason, plan, limits, revokedKeyIds: [...revokedKeyIds] }
  }

  /** What admission currently sees, for the admin API and tests. */
  async inspect() {
    const now = Date.now()
    const period = budgetPeriodOf(now)
    return {
      status: this.state?.status ?? null,
      plan: this.state?.plan ?? null,
      limits: this.limits,
      ...this.ledger.inspect(now),
      budget: { period, ...this.ledger.budget(period) },
      /** Held by location objects beyond the counts above (global view: the entries they reported are in them). */
      slices: this.slices.inspect(now),
    }
  }

  /** Does nothing: the baseline round trip in scripts/bench/admission/main.ts. */
  async ping(): Promise<void> {}

  /**
   * Releases the slots of expired leases, charges leases never settled, and deletes entries that left the
   * window. It acts as of its scheduled time even when run early (runDurableObjectAlarm in tests).
   */
  override async alarm(): Promise<void> {
    const now = Date.now()
    const due = Math.max(now, this.alarmAt ?? now)
    this.alarmAt = null
    this.persist(this.ledger.sweep(due, now))
    this.chargeLapsedSlices(now)
    const hasEntries = this.store.prune(now - WINDOW_MS)
    const next = Math.min(this.ledger.nextLeaseEvent(), hasEntries ? now + WINDOW_MS : Infinity)
    if (Number.isFinite(next)) this.ensureAlarm(next)
    else this.store.writeAlarmAt(null)
  }

  private persist(changes: Changes): void {
    this.store.persist(changes, (period) => this.ledger.budget(period))
    for (const period of new Set(changes.budgets)) {
      const b = this.ledger.budget(period)
      const after = { tokens: b.committed, microUsd: b.committedMicroUsd }
      const crossings = budgetCrossings(this.committedWritten.get(period) ?? { tokens: 0, microUsd: 0 }, after, this.limits)
      this.committedWritten.set(period, after)
      for (const crossing of crossings) this.reportCrossing(period, crossing)
    }
  }

  /**
   * A budget threshold crossed: an audit row in D1 (what cic_budget_threshold_crossings_total counts at scrape),
   * a log line and the notifier, after the decision (never on its path). A failed D1 write loses only the row
   * and the metric's count (logged); the budget itself is in this object's storage.
   */
  private reportCrossing(period: string, crossing: BudgetCrossing): void {
    const tenantId = this.state?.tenantId ?? 'unknown'
    const after = { period, unit: crossing.unit, threshold_percent: crossing.thresholdPercent, budget: crossing.budget, committed: crossing.committed }
    log.info('budget_threshold_crossed', { tenant_id: tenantId, ...after })
    const write = this.env.DB.prepare('INSERT INTO audit_log (at, actor, action, target, after) VALUES (?, ?, ?, ?, ?)')
      .bind(Date.now(), 'tenant-gate', BUDGET_THRESHOLD_ACTION, tenantId, JSON.stringify(after))
      .run()
      .then(() => this.notifier(tenantId, period, crossing))
      .catch((err: unknown) => log.error('budget_threshold_report_failed', { tenant_id: tenantId, ...after, error: String(err) }))
    this.ctx.waitUntil(write)
  }

  /**
   * Leases held in memory only are lost if the object hibernates, which the runtime may do after 10 s without
   * a call unless a timer is pending. So while there are any, one timer stays armed (it only re-checks); an
   * object with a request in flight also gets a renew at least every 50 s, so it is never idle the 70 s after
   * which even a non-hibernatable object is evicted. Rate windows alone may go (brief leniency).
   */
  private stayResident(): void {
    const isNeeded = this.ledger.hasLeasesInMemory(Date.now())
    if (isNeeded === (this.residentTimer !== null)) return
    if (!isNeeded) {
      clearTimeout(this.residentTimer ?? undefined)
      this.residentTimer = null
      return
    }
    this.residentTimer = setTimeout(() => {
      this.residentTimer = null
      this.stayResident()
    }, RESIDENT_CHECK_MS)
  }

  /** Whether stayResident's timer is armed (for tests). */
  isKeptResident(): boolean {
    return this.residentTimer !== null
  }

  private ensureAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return
    this.alarmAt = at
    this.store.writeAlarmAt(at)
    void this.ctx.storage.setAlarm(at)
  }

  private setState(state: TenantState | null): void {
    this.state = state
    if (state) this.limits = tenantLimits(state.plan, state.limits)
  }

  /** First use of an object whose storage is empty (new tenant, or state lost): D1 is the record. */
  private async bootstrapFromD1(tenantId: string): Promise<void> {
    const tenant = await this.env.DB.prepare('SELECT status, status_reason, plan, limits, updated_at FROM tenants WHERE id = ?')
      .bind(tenantId)
      .first<{ status: TenantStatus; status_reason: string | null; plan: string; limits: string; updated_at: number | null }>()
    if (!tenant) return
    const revoked = await this.env.DB.prepare('SELECT id FROM api_keys WHERE tenant_id = ? AND revoked_at IS NOT NULL').bind(tenantId).all<{ id: string }>()
    if (this.state) return // configured by a concurrent call while we awaited D1: that one is newer
    for (const { id } of revoked.results) this.store.revokeKey(id, Date.now())
    await this.configure({
      tenantId,
      status: tenant.status,
      statusReason: tenant.status_reason,
      plan: tenant.plan,
      limits: JSON.parse(tenant.limits) as LimitOverrides,
      updatedAt: tenant.updated_at,
    })
  }
}
