// This isolate's line to each admission object it uses: a tenant's home TenantGate, or one of its location objects
// (durable-objects/admission-location), which answer the same admitMany/settleMany. An RPC costs far more than the decision it carries,
// so the settles of requests that ended do not each make one: they wait here and ride with the next admit to
// the same object (applied first, so their slots and refunds count for it), or go together in one settleMany
// after SETTLE_LINGER_MS when no admit comes. Each request's admit is still its own single round trip.
//
// Only data crosses requests here, never a promise (a request cannot wait on another's I/O in Workers): the
// request whose settle starts a linger keeps itself alive (waitUntil) until that flush is done, and a request
// whose admit failed puts the settles it carried back for the next one. That is also why admits are not batched
// across requests: tried (admits arriving while an admitMany was in flight went together in the next one, their
// answers handed over by resolving each waiting request's promise), workerd refuses the hand-over ("Cannot perform
// I/O on behalf of a different request", I/O type RefcountedFulfiller) in 13 of the admission tests.
import { hintOfLocationName, leaseIssuer } from '../../../../durable-objects/admission-location/contract.ts'
import { tenantGateName, type AdmitInput, type AdmitResult, type SettleInput } from '../../../../durable-objects/tenant-gate/contract.ts'
import { log } from '../../log.ts'

/** How long a settle waits for an admit to ride with before it is sent on its own. */
const SETTLE_LINGER_MS = 2

type PendingSettle = SettleInput & { attempts: number }
type WaitUntil = (p: Promise<unknown>) => void
/** The two calls a channel makes, on whichever object it talks to. */
type AdmissionObject = {
  admitMany(batch: { admits: AdmitInput[]; settles: SettleInput[] }): Promise<AdmitResult[]>
  settleMany(settles: SettleInput[]): Promise<boolean[]>
}

class GateChannel {
  private settles: PendingSettle[] = []
  private isLingerArmed = false

  constructor(
    private readonly name: string,
    private readonly objectOf: (env: Env) => AdmissionObject,
  ) {}

  async admit(env: Env, input: AdmitInput, waitUntil: WaitUntil): Promise<AdmitResult> {
    const settles = this.settles.splice(0)
    try {
      const [result] = await this.objectOf(env).admitMany({ admits: [input], settles: settles.map(settleInput) })
      if (!result) throw new Error('admission returned no result')
      return result
    } catch (err) {
      this.putBack(env, settles, err, waitUntil, { rodeWithAdmit: true })
      throw err
    }
  }

  /** Queues a settle; the promise (for waitUntil) ends when the linger this call started, if any, is flushed. */
  settle(env: Env, leaseId: string, usedTokens: number, waitUntil: WaitUntil, usedMicroUsd?: number): Promise<void> {
    this.settles.push({ leaseId, usedTokens, ...(usedMicroUsd === undefined ? {} : { usedMicroUsd }), attempts: 0 })
    return this.armLinger(env, waitUntil)
  }

  private armLinger(env: Env, waitUntil: WaitUntil): Promise<void> {
    if (this.isLingerArmed) return Promise.resolve()
    this.isLingerArmed = true
    return new Promise<void>((resolve) => setTimeout(resolve, SETTLE_LINGER_MS)).then(async () => {
      this.isLingerArmed = false
      const settles = this.settles.splice(0)
      if (settles.length === 0) return this.dropIfIdle() // they rode with an admit
      try {
        await this.objectOf(env).settleMany(settles.map(settleInput))
      } catch (err) {
        this.putBack(env, settles, err, waitUntil)
      }
      this.dropIfIdle()
    })
  }

  /**
   * Settle is idempotent in the object, so settles whose RPC failed are sent once more: always when they rode
   * with an admit (its failure may be the admit's own), else when the failure was transient. After that the
   * lease expires on its own and its reservation stays charged until then (never undercounted).
   */
  private putBack(env: Env, settles: PendingSettle[], err: unknown, waitUntil: WaitUntil, { rodeWithAdmit = false } = {}): void {
    if (settles.length === 0) return
    const retryable = rodeWithAdmit || (err as { retryable?: unknown } | null)?.retryable === true
    for (const s of settles) {
      if (retryable && s.attempts++ < 1) this.settles.push(s)
      else log.error('admission_settle_failed', { gate: this.name, leaseId: s.leaseId, usedTokens: s.usedTokens, error: String(err) })
    }
    if (this.settles.length > 0) waitUntil(this.armLinger(env, waitUntil))
  }

  private dropIfIdle(): void {
    if (this.settles.length === 0 && !this.isLingerArmed && channels.get(this.name) === this) channels.delete(this.name)
  }
}

const settleInput = ({ leaseId, usedTokens, usedMicroUsd }: PendingSettle): SettleInput =>
  usedMicroUsd === undefined ? { leaseId, usedTokens } : { leaseId, usedTokens, usedMicroUsd }

const channels = new Map<string, GateChannel>()

function channelOf(name: string, objectOf: (env: Env) => AdmissionObject): GateChannel {
  let channel = channels.get(name)
  if (!channel) channels.set(name, (channel = new GateChannel(name, objectOf)))
  return channel
}

/** The channel to one tenant's home admission object (`tenant:<id>`), made on first use and dropped when idle. */
export function gateChannel(tenantId: string): GateChannel {
  const name = tenantGateName(tenantId)
  return channelOf(name, (env) => env.TENANT_GATE.getByName(name))
}

/** The channel to a location object (`loc:<tenant>:<hint>[:<shard>]`), created near this Worker by its location hint. */
export function locationChannel(name: string): GateChannel {
  const hint = hintOfLocationName(name)
  const options = hint ? { locationHint: hint } : undefined
  return channelOf(name, (env) => {
    const location = env.ADMISSION_LOCATION.getByName(name, options)
    return {
      admitMany: (batch) => location.admitMany({ ...batch, location: name }),
      settleMany: (settles) => location.settleMany(settles, name),
    }
  })
}

/** The channel to the object that gave a lease: its settle goes there (a location forwards what it lost to the home). */
export function channelOfLease(tenantId: string, leaseId: string): GateChannel {
  const issuer = leaseIssuer(leaseId)
  return issuer ? locationChannel(issuer) : gateChannel(tenantId)
}
