// Bench-only Worker (scripts/bench/admission/main.ts starts it): runs a batch of RPCs against one tenant's
// TenantGate from inside workerd, so the measurement is the object's round trip, not HTTP to Node.
// GET /setup?tenant=&budget=0|1|money  configures the tenant with limits that never refuse (every admit does the
//   full work); with budget=1 (the default, tokens) or money (budget_micro_usd, the reservation carries a price) its
//   admissions are written to storage, with budget=0 they stay in memory.
// GET /run?tenant=&op=ping|admit|admit_settle&n=&concurrency=  runs n calls, at most `concurrency` at once.
import { TenantGate } from '../../../durable-objects/tenant-gate/tenant-gate.ts'

export { TenantGate }

type BenchEnv = { TENANT_GATE: DurableObjectNamespace<TenantGate> }
const reservation = { promptTokens: 20, completionTokens: 100, isCompletionGuess: false, promptBound: 1_100 }
/** A money budget's reservation: the same tokens at $0.60/M in, $2.40/M out. */
const pricedReservation = { ...reservation, price: { inputMicroUsdPerMTok: 600_000, outputMicroUsdPerMTok: 2_400_000 } }

export default {
  async fetch(request: Request, env: BenchEnv): Promise<Response> {
    const url = new URL(request.url)
    const tenantId = url.searchParams.get('tenant') ?? 'bench'
    const gate = env.TENANT_GATE.getByName(`tenant:${tenantId}`)
    if (url.pathname === '/setup') {
      // Limits high enough never to refuse, but set, so every admission checks and records all four layers,
      // and the budget (the one limit whose entries are written to storage) unless budget=0.
      const kind = url.searchParams.get('budget')
      const budget = kind === '0' ? {} : kind === 'money' ? { budget_micro_usd: 1_000_000_000_000 } : { budget_tokens: 2_000_000_000 }
      const limits = { rpm: 100_000_000, tpm: 2_000_000_000, concurrency: 1_000_000, key_rpm: 100_000_000, ...budget }
      await gate.configure({ tenantId, status: 'active', statusReason: null, plan: 'enterprise', limits })
      return Response.json({ ok: true })
    }
    const op = url.searchParams.get('op') ?? 'ping'
    const n = Number(url.searchParams.get('n') ?? 1000)
    const concurrency = Number(url.searchParams.get('concurrency') ?? 32)
    const isMoney = url.searchParams.get('money') === '1'
    const one = async () => {
      if (op === 'ping') return gate.ping()
      const result = await gate.admit({ tenantId, keyId: 'bench-key', reservation: isMoney ? pricedReservation : reservation })
      if (!result.ok) throw new Error(`refused: ${JSON.stringify(result)}`)
      if (op === 'admit_settle' && result.leaseId) await gate.settle(result.leaseId, 60, isMoney ? 90 : undefined)
    }
    let next = 0
    const lane = async () => {
      while (next++ < n) await one()
    }
    await Promise.all(Array.from({ length: concurrency }, lane))
    return Response.json({ ok: true, n })
  },
}
