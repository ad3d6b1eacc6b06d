// The console's usage answers (hourly and local-day buckets, by model and by key, CSV) from ledger writes, and
// real answers of the console API parsed with the contract's zod schemas (workers/src/schemas/console.ts).
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { consoleUsageSchema, keyListSchema, meSchema, membersSchema, overviewSchema, tenantDetailSchema, tenantListSchema } from '../../src/schemas/console.ts'
import { localDayStart } from '../../src/services/console/usage-series.ts'
import { writeLedger } from '../../src/services/usage/ledger-write.ts'
import { api, seedTenant, uniqueModel } from '../helpers/gateway.ts'
import { seedPrice } from '../helpers/prices.ts'
import { type Browser, createTenant, member, operator, uniqueEmail } from './console-browser.ts'

const HOUR = 3_600_000
const thisHour = Math.floor(Date.now() / HOUR) * HOUR

async function recordUsage(tenantId: string, keyId: string, model: string, createdAt: number, prompt: number, completion: number) {
  await writeLedger(
    env.DB,
    [
      {
        requestId: `req_${crypto.randomUUID()}`,
        tenantId,
        keyId,
        model,
        nodeId: 'node_console',
        endpoint: 'chat.completions',
        promptTokens: prompt,
        completionTokens: completion,
        outcome: 'completed',
        httpStatus: 200,
        usageSource: 'node',
        latencyMs: 10,
        ttftMs: null,
        createdAt,
      },
    ],
    { now: createdAt },
  )
}

let op: Browser
let tenantId: string
let viewer: Browser

beforeAll(async () => {
  op = await operator()
  tenantId = await createTenant(op)
  viewer = await member(op, tenantId, uniqueEmail('usage-member'), 'tenant_member')
  await recordUsage(tenantId, 'key_a', 'model-x', thisHour - 2 * HOUR + 5, 10, 5)
  await recordUsage(tenantId, 'key_b', 'model-y', thisHour - 2 * HOUR + 9, 7, 3)
  await recordUsage(tenantId, 'key_a', 'model-x', thisHour - HOUR + 1, 100, 50)
  const other = await createTenant(op)
  await recordUsage(other, 'key_c', 'model-x', thisHour - HOUR + 1, 999, 999) // another tenant's: never counted here
})

const parse = <S extends z.ZodType>(schema: S, value: unknown) => {
  const result = schema.safeParse(value)
  expect(result.success ? null : result.error.issues).toBeNull()
  return result.data as z.infer<S>
}

describe('usage', () => {
  it('hourly series and totals of the tenant’s own usage only', async () => {
    const usage = parse(consoleUsageSchema, await viewer.json(`/dashboard/api/tenants/${tenantId}/usage`))
    // model-x and model-y have no price in this file (free outside production-like environments): cost 0.
    expect(usage.totals).toEqual({ requests: 3, prompt_tokens: 117, completion_tokens: 58, total_tokens: 175, cost_usd: '0.000000' })
    expect(usage.series).toEqual([
      {
        bucket_start: new Date(thisHour - 2 * HOUR).toISOString(),
        requests: 2,
        prompt_tokens: 17,
        completion_tokens: 8,
        total_tokens: 25,
        cost_usd: '0.000000',
      },
      {
        bucket_start: new Date(thisHour - HOUR).toISOString(),
        requests: 1,
        prompt_tokens: 100,
        completion_tokens: 50,
        total_tokens: 150,
        cost_usd: '0.000000',
      },
    ])
  })

  it('splits by model and by key', async () => {
    const byModel = parse(consoleUsageSchema, await viewer.json(`/dashboard/api/tenants/${tenantId}/usage?group_by=model&granularity=day&tz=UTC`))
    const totalsByGroup = (series: { group?: string; total_tokens: number }[]) => {
      const totals: Record<string, number> = {}
      for (const p of series) totals[p.group ?? ''] = (totals[p.group ?? ''] ?? 0) + p.total_tokens
      return totals
    }
    expect(totalsByGroup(byModel.series)).toEqual({ 'model-x': 165, 'model-y': 10 })
    const byKey = parse(consoleUsageSchema, await viewer.json(`/dashboard/api/tenants/${tenantId}/usage?group_by=key`))
    expect(totalsByGroup(byKey.series)).toEqual({ key_a: 165, key_b: 10 })
  })

  it('buckets days at local midnight in the viewer’s time zone', async () => {
    const day = parse(consoleUsageSchema, await viewer.json(`/dashboard/api/tenants/${tenantId}/usage?granularity=day&tz=Asia%2FKolkata`))
    const expected = [...new Set([thisHour - 2 * HOUR, thisHour - HOUR].map((h) => localDayStart('Asia/Kolkata', h)))]
    expect(day.series.map((p) => p.bucket_start)).toEqual(expected.map((t) => new Date(t).toISOString()))
    for (const start of expected) expect(new Date(start).getUTCHours() * 60 + new Date(start).getUTCMinutes()).toBe(18 * 60 + 30) // 00:00 IST
    expect(day.totals.total_tokens).toBe(175)
    // Unit checks of the local-midnight arithmetic, including a DST zone.
    expect(new Date(localDayStart('Europe/Paris', Date.UTC(2026, 6, 1, 12))).toISOString()).toBe('2026-06-30T22:00:00.000Z')
    expect(new Date(localDayStart('Europe/Paris', Date.UTC(2026, 0, 15, 0, 30))).toISOString()).toBe('2026-01-14T23:00:00.000Z')
    expect(new Date(localDayStart('America/New_York', Date.UTC(2026, 2, 8, 12))).toISOString()).toBe('2026-03-08T05:00:00.000Z') // DST starts that day
  })

  it('exports CSV', async () => {
    const res = await viewer.fetch(`/dashboard/api/tenants/${tenantId}/usage.csv?group_by=model`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/)
    const lines = (await res.text()).trim().split('\r\n')
    expect(lines[0]).toBe('bucket_start,group,requests,prompt_tokens,completion_tokens,total_tokens,cost_usd')
    expect(lines).toContain(`"${new Date(thisHour - HOUR).toISOString()}","model-x","1","100","50","150","0.000000"`)
    expect(lines).toHaveLength(4)
  })

  it('refuses bad parameters with a 400 naming them', async () => {
    for (const [query, param] of [
      ['tz=Not%2FAZone', 'tz'],
      ['granularity=minute', 'granularity'],
      ['start=2026-01-01&end=2025-01-01', 'end'],
      ['start=2025-01-01&end=2025-06-01', 'start'],
    ]) {
      const res = await viewer.fetch(`/dashboard/api/tenants/${tenantId}/usage?${query}`)
      expect(res.status, query).toBe(400)
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param)
    }
  })
})

describe('usage cost', () => {
  // Prices whose costs do not fall on whole micro-dollars, so the per-row rounding (usage-cost.ts) matters.
  const priced = uniqueModel('priced-a')
  const other = uniqueModel('priced-b')
  // $0.40/M: one token costs 0.4 micro-dollars, rounded to 0 per row and direction; summed before rounding it would not be.
  const tiny = uniqueModel('priced-tiny')
  const hours = [thisHour - 3 * HOUR, thisHour - 2 * HOUR, thisHour - HOUR]
  let tenant: { tenantId: string; key: string; keyId: string }

  beforeAll(async () => {
    await seedPrice(priced, 1_234_567, 2_345_679) // $1.234567/M in, $2.345679/M out
    await seedPrice(other, 333_333, 777_777)
    await seedPrice(tiny, 400_000, 400_000)
    tenant = await seedTenant()
    for (const [i, hour] of hours.entries()) {
      await recordUsage(tenant.tenantId, tenant.keyId, priced, hour + 11, 1_001 + i, 333 + 7 * i)
      await recordUsage(tenant.tenantId, tenant.keyId, priced, hour + 12, 17, 9)
      await recordUsage(tenant.tenantId, tenant.keyId, other, hour + 13, 12_345, 6_789 + i)
      await recordUsage(tenant.tenantId, tenant.keyId, tiny, hour + 14, 1, 1)
    }
  })

  /** Micro-dollars of a row, by hand: each direction's pico-dollars rounded half up (BigInt, no float). */
  const rowMicro = (prompt: number, completion: number, input: number, output: number) =>
    (BigInt(prompt) * BigInt(input) + 500_000n) / 1_000_000n + (BigInt(completion) * BigInt(output) + 500_000n) / 1_000_000n
  const usd = (micro: bigint) => `${micro / 1_000_000n}.${(micro % 1_000_000n).toString().padStart(6, '0')}`

  it('totals and every point equal GET /v1/usage for the same range, to the micro-dollar', async () => {
    const start = hours[0] ?? 0
    const end = thisHour
    const consoleUsage = parse(consoleUsageSchema, await op.json(`/dashboard/api/tenants/${tenant.tenantId}/usage?start=${start}&end=${end}`))
    const v1 = (await (await api(tenant.key, `/v1/usage?from=${start}&to=${end}&group_by=hour`)).json()) as {
      totals: { cost_usd: string }
      data: { start: number; cost_usd: string }[]
    }
    expect(consoleUsage.totals.cost_usd).toBe(v1.totals.cost_usd)
    expect(consoleUsage.series.map((p) => [Date.parse(p.bucket_start), p.cost_usd])).toEqual(v1.data.map((d) => [d.start, d.cost_usd]))
    // And both equal the hand-computed sum of each rollup row's rounded cost (one row per model per hour here).
    let expected = 0n
    for (const [i] of hours.entries()) {
      expected += rowMicro(1_001 + i + 17, 333 + 7 * i + 9, 1_234_567, 2_345_679)
      expected += rowMicro(12_345, 6_789 + i, 333_333, 777_777)
      expected += rowMicro(1, 1, 400_000, 400_000) // 0: each direction rounds down
    }
    expect(consoleUsage.totals.cost_usd).toBe(usd(expected))
    expect(consoleUsage.totals.cost_usd).not.toBe('0.000000')
  })

  it('split by model and by local day, the costs add up to the same total; the CSV carries them', async () => {
    const start = hours[0] ?? 0
    const query = `start=${start}&end=${thisHour}`
    const total = parse(consoleUsageSchema, await op.json(`/dashboard/api/tenants/${tenant.tenantId}/usage?${query}`)).totals.cost_usd
    const toMicro = (s: string) => BigInt(s.replace('.', ''))
    for (const extra of ['group_by=model', 'granularity=day&tz=Asia%2FKolkata', 'group_by=key&granularity=day']) {
      const split = parse(consoleUsageSchema, await op.json(`/dashboard/api/tenants/${tenant.tenantId}/usage?${query}&${extra}`))
      expect(split.totals.cost_usd, extra).toBe(total)
      expect(usd(split.series.reduce((sum, p) => sum + toMicro(p.cost_usd), 0n)), extra).toBe(total)
    }
    const byModel = parse(consoleUsageSchema, await op.json(`/dashboard/api/tenants/${tenant.tenantId}/usage?${query}&group_by=model`))
    const csv = await (await op.fetch(`/dashboard/api/tenants/${tenant.tenantId}/usage.csv?${query}&group_by=model`)).text()
    for (const p of byModel.series) expect(csv).toContain(`"${p.bucket_start}","${p.group}","${p.requests}",`)
    for (const p of byModel.series) expect(csv).toContain(`"${p.total_tokens}","${p.cost_usd}"\r\n`)
  })
})

describe('answers match the contract (schemas/console.ts)', () => {
  it('me, tenants, tenant detail, keys, members, overview', async () => {
    const admin = await member(op, tenantId, uniqueEmail('contract-admin'), 'tenant_admin')
    await admin.json(`/dashboard/api/tenants/${tenantId}/keys`, { method: 'POST', json: { name: 'contract' } })
    await admin.json(`/dashboard/api/tenants/${tenantId}/invites`, { method: 'POST', json: { email: uniqueEmail('pending'), role: 'tenant_member' } })
    parse(meSchema, await admin.json('/dashboard/api/me'))
    parse(tenantListSchema, await admin.json('/dashboard/api/tenants'))
    parse(tenantListSchema, await op.json('/dashboard/api/tenants'))
    parse(tenantDetailSchema, await admin.json(`/dashboard/api/tenants/${tenantId}`))
    const keys = parse(keyListSchema, await viewer.json(`/dashboard/api/tenants/${tenantId}/keys`))
    expect(keys.keys.length).toBeGreaterThan(0)
    const members = parse(membersSchema, await admin.json(`/dashboard/api/tenants/${tenantId}/members`))
    expect(members.invites.length).toBeGreaterThan(0)
    // A member sees the members, not the pending invites.
    const asMember = parse(membersSchema, await viewer.json(`/dashboard/api/tenants/${tenantId}/members`))
    expect(asMember.members.length).toBe(members.members.length)
    expect(asMember.invites).toEqual([])
    const overview = parse(overviewSchema, await op.json('/dashboard/api/overview'))
    expect(overview.usage_last_24h.total_tokens).toBeGreaterThanOrEqual(175 + 1998)
    // The schemas can fail: an unknown field is refused.
    expect(meSchema.safeParse({ ...(await admin.json('/dashboard/api/me')), extra: 1 }).success).toBe(false)
  })
})
