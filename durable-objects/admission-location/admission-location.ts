// One object per tenant and location hint (`loc:<tenant>:<hint>`, contract.ts): admits the tenant's requests from the
// Workers near it out of a slice of the tenant's limits, so in the steady state a request waits for no call to the
// tenant's home TenantGate, wherever that lives. The arithmetic is local-slice.ts; the home's side is
// durable-objects/tenant-gate (exchange, recall). Everything here is memory only: an evicted location comes back
// empty, and the home keeps counting what the lost instance held until its slice and leases expire.
import { DurableObject } from 'cloudflare:workers'
import { log } from '../../workers/src/log.ts'
import { guardDurableObject } from '../../workers/src/platform/guard.ts'
import {
  simulatedDistance,
  tenantGateName,
  type AdmitInput,
  type AdmitResult,
  type ExchangeRequest,
  type ExchangeResult,
  type RecallInput,
  type SettleInput,
} from '../tenant-gate/contract.ts'
import { FAMILIES, seriesKey } from '../metrics-aggregator/contract.ts'
import type { TenantGate } from '../tenant-gate/tenant-gate.ts'
import { IDLE_RELEASE_MS, LocalSlice, LOCATION_LEASE_MAX_MS, type ExchangeOptions } from './local-slice.ts'

/** What a Worker isolate sends (services/admission/gate-channel.ts): this object's name, its settles, its admits. */
export type LocationBatch = { location: string; admits: AdmitInput[]; settles: SettleInput[] }
type Ask = { input: AdmitInput; resolve: (r: AdmitResult) => void; reject: (err: unknown) => void }

export class AdmissionLocation extends DurableObject<Env> {
  private slice: LocalSlice | null = null
  private tenantId: string | null = null
  /** The exchange in flight (one at a time: the home applies them in order, see LocalSlice.exchange). */
  private inFlight: Promise<unknown> | null = null
  private tick: ReturnType<typeof setTimeout> | null = null
  /** Requests waiting for the home's room (see flushAsks). */
  private asks: Ask[] = []
  /** Admissions decided here, those that waited on the home, and calls made to the home (bench and admin view). */
  private readonly stats = { decidedHere: 0, waitedOnHome: 0, homeCalls: 0 }

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    guardDurableObject(this, ctx, env)
  }

  /** Settles first (their slots are free for the admits), then each admission in order: one result per admit. */
  async admitMany(batch: LocationBatch): Promise<AdmitResult[]> {
    const slice = this.sliceOf(batch.location)
    const first = batch.admits[0]
    if (first) this.tenantId = first.tenantId
    await this.settleAll(slice, batch.settles)
    return Promise.all(batch.admits.map((input) => this.admitOne(slice, input)))
  }

  async settleMany(settles: SettleInput[], location?: string): Promise<boolean[]> {
    return this.settleAll(this.slice ?? (location ? this.sliceOf(location) : null), settles)
  }

  /** Keeps a running lease's slot for another `ttlMs`; a lease this instance does not know is the home's to renew. */
  async renew(leaseId: string, ttlMs: number): Promise<boolean> {
    const slice = this.slice
    if (!slice?.hasLease(leaseId)) return this.homeCall((home) => home.renew(leaseId, ttlMs))
    if (slice.needsLongerHold(ttlMs, Date.now())) {
      if (this.inFlight) await this.inFlight.catch(() => undefined)
      await this.runExchange(slice, { release: false, leaseHorizonMs: Math.min(ttlMs, LOCATION_LEASE_MAX_MS) })
    }
    return slice.renew(leaseId, ttlMs, Date.now())
  }

  /**
   * The home's new state (revocation, suspension, new limits): applied at once; every unused unit is given back and
   * the report returned for the home to apply. Null when this instance holds nothing.
   */
  async recall({ state }: RecallInput): Promise<ExchangeRequest | null> {
    const slice = this.slice
    if (!slice || !this.tenantId) return null
    slice.setState(state)
    return slice.exchange(this.tenantId, Date.now(), { release: true })
  }

  /** What this location holds (tests, and the admin view through the home). */
  async inspect() {
    const slice = this.slice?.inspect(Date.now())
    return slice ? { ...slice, ...this.stats } : null
  }

  private admitOne(slice: LocalSlice, input: AdmitInput): Promise<AdmitResult> {
    const d = this.decideHere(slice, input, { isRetry: false })
    if (d) return Promise.resolve(d)
    this.stats.waitedOnHome++
    return new Promise<AdmitResult>((resolve, reject) => {
      this.asks.push({ input, resolve, reject })
      this.flushAsks(slice)
    })
  }

  /** The decision here when there is one (admitted, refused, or sent to the home alone); null: it needs the home's room. */
  private decideHere(slice: LocalSlice, input: AdmitInput, { isRetry }: { isRetry: boolean }): AdmitResult | Promise<AdmitResult> | null {
    const d = slice.decide(input, Date.now(), () => crypto.randomUUID(), { isRetry })
    switch (d.kind) {
      case 'admitted':
        if (!isRetry) this.stats.decidedHere++
        this.afterAdmission(slice)
        return { ok: true, leaseId: d.leaseId, reservedTokens: d.reservedTokens, billCap: d.billCap, rate: d.rate }
      case 'refused':
        return d.refusal
      case 'ask_home':
        if (d.reason !== 'home_only') return null
        if (!isRetry) this.stats.waitedOnHome++
        return this.homeAdmit(input)
      default: {
        const unreachable: never = d
        throw new Error(`unhandled local decision ${JSON.stringify(unreachable)}`)
      }
    }
  }

  /**
   * Requests with no room here wait for the exchange in flight (its refill may admit them here), then go to the home
   * together in the next one, which releases all room first: at most two round trips, and the home decides them with
   * none of this location's room idle against them.
   */
  private flushAsks(slice: LocalSlice): void {
    if (this.inFlight || this.asks.length === 0) return
    const waiting = this.asks.splice(0)
    const toHome: Ask[] = []
    for (const ask of waiting) {
      const d = this.decideHere(slice, ask.input, { isRetry: true })
      if (d === null) toHome.push(ask)
      else Promise.resolve(d).then(ask.resolve, ask.reject)
    }
    if (toHome.length === 0) return
    void this.runExchange(slice, { release: true, admits: toHome.map((a) => a.input) }).then((answer) => {
      for (const [i, ask] of toHome.entries()) {
        const decided = answer && !answer.ok ? answer : answer?.admitted[i]
        if (decided) ask.resolve(decided)
        else this.homeAdmit(ask.input).then(ask.resolve, ask.reject) // the exchange failed or was a retry
      }
    })
  }

  /** A request decided at the home (one round trip), outside any exchange. */
  private async homeAdmit(input: AdmitInput): Promise<AdmitResult> {
    const [result] = await this.homeCall((home) => home.admitMany({ admits: [input], settles: [] }))
    if (!result) throw new Error('admission returned no result')
    return result
  }

  private async settleAll(slice: LocalSlice | null, settles: SettleInput[]): Promise<boolean[]> {
    const now = Date.now()
    const results = settles.map((s) => slice?.settle(s.leaseId, s.usedTokens, now, s.usedMicroUsd) ?? false)
    // Not given here (or by an instance since evicted): the home may hold it from a report.
    const unknown = settles.filter((_, i) => !results[i])
    if (unknown.length > 0) {
      const atHome = await this.homeCall((home) => home.settleMany(unknown))
      let i = 0
      for (let j = 0; j < results.length; j++) if (!results[j]) results[j] = atHome[i++] === true
    }
    if (slice?.hasPendingSettles(Date.now(), { any: true })) this.armTick(slice)
    return results
  }

  /** Asks for more ahead of running out, without making the request that noticed wait. */
  private afterAdmission(slice: LocalSlice): void {
    if (!this.inFlight && slice.wantsRefill(Date.now())) void this.runExchange(slice, { release: false })
    this.armTick(slice)
  }

  /** One exchange with the home (see LocalSlice.exchange); null when it failed (its settles are kept for the next). */
  private runExchange(slice: LocalSlice, options: ExchangeOptions): Promise<ExchangeResult | null> {
    const tenantId = this.tenantId
    if (!tenantId) return Promise.resolve(null)
    const sentAt = Date.now()
    const sent = slice.exchange(tenantId, sentAt, options)
    const run = (async (): Promise<ExchangeResult | null> => {
      try {
        const answer: ExchangeResult = await this.homeCall(async (home) => home.exchange(sent))
        if (answer.ok) slice.take(answer, sentAt, sent)
        return answer
      } catch (err) {
        slice.putBack(sent)
        log.warn('admission_exchange_failed', { location: slice.location, error: String(err) })
        this.countExchangeFailure()
        return null
      }
    })()
    const settled = run.finally(() => {
      if (this.inFlight === settled) this.inFlight = null
      this.armTick(slice)
      this.flushAsks(slice)
    })
    this.inFlight = settled
    return settled
  }

  /**
   * cic_admission_exchange_failures_total + 1, sent to a MetricsAggregator shard after the failure (never on the
   * admission's path). Failures are rare, so one batch each; a failed send loses that one count (logged).
   */
  private countExchangeFailure(): void {
    const batch = { id: crypto.randomUUID(), deltas: [[seriesKey(FAMILIES.admissionExchangeFailures.name, {}), 1] as [string, number]] }
    // Shard 0: GET /metrics sums every shard (services/metrics/metrics-buffer.ts names them `metrics:<index>`).
    const send = this.env.METRICS_AGGREGATOR.getByName('metrics:0')
      .add(batch)
      .then(
        () => undefined,
        (err: unknown) => log.warn('admission_exchange_failure_uncounted', { error: String(err) }),
      )
    this.ctx.waitUntil(send)
  }

  /** Every call to the home pays the simulated distance (outside production). */
  private async homeCall<T>(call: (home: DurableObjectStub<TenantGate>) => Promise<T>): Promise<T> {
    const tenantId = this.tenantId
    if (!tenantId) throw new Error('location object used before any admission named its tenant')
    this.stats.homeCalls++
    await simulatedDistance(this.env)
    return call(this.env.TENANT_GATE.getByName(tenantGateName(tenantId)))
  }

  /**
   * While it holds room or owes settles, the object looks again every IDLE_RELEASE_MS: an idle slice is given back (so
   * other locations can have it at once) and owed settles are sent; a busy one is refilled ahead of its expiry.
   */
  private armTick(slice: LocalSlice): void {
    if (this.tick !== null) return
    this.tick = setTimeout(() => {
      this.tick = null
      const now = Date.now()
      if (this.inFlight) return this.armTick(slice)
      // Budget holds not reported yet go to the home once the location is quiet (its units then count there, settled once).
      if (slice.isIdle(now) || slice.hasPendingSettles(now) || slice.owesBudgetReport(now)) void this.runExchange(slice, { release: slice.isIdle(now) })
      else if (slice.wantsRefill(now)) void this.runExchange(slice, { release: false })
      else if (slice.inspect(now).useByMs > 0 || slice.hasPendingSettles(now, { any: true }) || slice.owesBudgetReport(now, { any: true })) this.armTick(slice)
    }, IDLE_RELEASE_MS / 2)
  }

  private sliceOf(location: string): LocalSlice {
    if (!this.slice) this.slice = new LocalSlice(location, crypto.randomUUID(), Date.now())
    return this.slice
  }
}
