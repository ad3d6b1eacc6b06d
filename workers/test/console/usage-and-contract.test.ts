// The console's usage answers (hourly and local-day buckets, by model and by key, CSV) from ledger writes, and
// real answers of the console API parsed with the contract's zod schemas (workers/src/schemas/console.ts).
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { consoleUsageSchema, keyListSchema, meSchema, membersSchema, overviewSchema, tenantDetailSchema, tenantListSchema } from '../../src/schemas/console.ts'
import { localDayStart } from '../../src/services/console/usage-series.ts'
import { writeLedger } from '../../src/services/usage/ledger-write.ts'
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
    expect(usage.totals).toEqual({ requests: 3, prompt_tokens: 117, completion_tokens: 58, total_tokens: 175 })
    expect(usage.series).toEqual([
      { bucket_start: new Date(thisHour - 2 * HOUR).toISOString(), requests: 2, prompt_tokens: 17, completion_tokens: 8, total_tokens: 25 },
      { bucket_start: new Date(thisHour - HOUR).toISOString(), requests: 1, prompt_tokens: 100, completion_tokens: 50, total_tokens: 150 },
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
    expect(lines[0]).toBe('bucket_start,group,requests,prompt_tokens,completion_tokens,total_tokens')
    expect(lines).toContain(`"${new Date(thisHour - HOUR).toISOString()}","model-x","1","100","50","150"`)
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
