// The platform guard inside workerd, on the real bindings: a statement production would refuse fails here.
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { inArray } from 'drizzle-orm'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { createDb } from '../db/client.ts'
import { tenants } from '../db/schema.ts'
import { guardDurableObject, guardInvocation, invocationUsage, takeRefusals } from './guard.ts'

// These tests provoke refusals on purpose: taken here, before the setup file's check that none went unseen.
afterEach(() => {
  takeRefusals()
})

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ')
const numbers = (n: number) => Array.from({ length: n }, (_, i) => i)

describe('D1 statements', () => {
  it('refuses a statement binding 101 parameters and runs one binding 100', async () => {
    expect(() => env.DB.prepare(`SELECT ${placeholders(101)}`).bind(...numbers(101))).toThrow(/101 bound parameters in one D1 statement, production allows 100/)
    const [row] = await env.DB.prepare(`SELECT ${placeholders(100)}`)
      .bind(...numbers(100))
      .raw()
    expect(row).toHaveLength(100)
  })

  it('refuses it through drizzle too (an IN list of 101 ids)', async () => {
    const ids = numbers(101).map((i) => `ten_${i}`)
    const refused = await createDb(env.DB)
      .select()
      .from(tenants)
      .where(inArray(tenants.id, ids))
      .all()
      .catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(Error)
    expect(String((refused as Error).cause)).toMatch(/101 bound parameters/) // drizzle wraps it in "Failed query: …"
  })

  it('refuses a statement longer than 100 KB and a value larger than 2 MB', async () => {
    expect(() => env.DB.prepare(`SELECT '${'x'.repeat(100_001)}'`)).toThrow(/longer than 100000 bytes/)
    expect(() => env.DB.prepare('SELECT ?').bind('é'.repeat(1_000_001))).toThrow(/value of 2000002 bytes/)
  })
})

describe('per invocation', () => {
  const select = () => env.DB.prepare('SELECT 1')

  it('counts each statement of a batch as a query and refuses the 1,001st', async () => {
    await guardInvocation(env, async () => {
      await env.DB.batch(Array.from({ length: 999 }, select))
      await select().first()
      expect(invocationUsage()).toEqual({ d1Queries: 1_000, subrequests: 2 })
      await expect(select().first()).rejects.toThrow(/1001 D1 queries in one invocation, production allows 1000/)
    })
    // The next invocation starts from zero; outside one nothing is counted.
    await guardInvocation(env, async () => expect(await env.DB.batch(Array.from({ length: 1_000 }, select))).toHaveLength(1_000))
    expect(invocationUsage()).toBeUndefined()
  })

  it('counts fetch, Queue sends and D1 calls as subrequests', async () => {
    const standin = inject('standins').healthy
    await guardInvocation(env, async () => {
      await (await fetch(`${standin}/health`)).body?.cancel()
      await env.USAGE_EVENTS_DLQ.send({ probe: 'platform-guard' }) // its consumer stores it as a dead letter: harmless here
      await select().run()
      expect(invocationUsage()).toEqual({ d1Queries: 1, subrequests: 3 })
    })
  })

  it('refuses fetch to an IP address when the environment is production-like, and allows it in tests', async () => {
    const staging = { ...env, ENVIRONMENT: 'staging' }
    for (const url of ['http://10.0.0.1/', 'http://127.0.0.1:8000/v1/models', 'http://[::1]/']) {
      await expect(guardInvocation(staging, () => fetch(url))).rejects.toThrow(/cannot fetch an IP address/)
    }
    const standin = inject('standins').healthy // http://127.0.0.1:port
    const res = await guardInvocation(env, () => fetch(`${standin}/health`))
    expect(res.status).toBe(200)
  })
})

describe('Durable Objects', () => {
  it('counts each call into an object as its own invocation; a call the object makes to itself stays in it', async () => {
    await runInDurableObject(env.METRICS_AGGREGATOR.getByName('platform-guard-calls'), async (_instance, state) => {
      class Probe {
        async query() {
          await env.DB.prepare('SELECT 1').first()
          return invocationUsage()
        }
        async queryTwice() {
          await this.query()
          return this.query()
        }
      }
      const probe = new Probe()
      guardDurableObject(probe, state, env)
      expect(await probe.query()).toEqual({ d1Queries: 1, subrequests: 1 })
      expect(await probe.query()).toEqual({ d1Queries: 1, subrequests: 1 })
      expect(await probe.queryTwice()).toEqual({ d1Queries: 2, subrequests: 2 })
      // Called from a Worker invocation that already spent a query: the object's call counts from zero.
      expect(
        await guardInvocation(env, async () => {
          await env.DB.prepare('SELECT 1').first()
          return probe.query()
        }),
      ).toEqual({ d1Queries: 1, subrequests: 1 })
    })
  })

  it('refuses an SQL statement binding 101 parameters and runs one binding 100', async () => {
    await runInDurableObject(env.METRICS_AGGREGATOR.getByName('platform-guard-test'), (_instance, state) => {
      expect(() => state.storage.sql.exec(`SELECT ${placeholders(101)}`, ...numbers(101))).toThrow(/101 bound parameters in one Durable Object SQL statement/)
      expect([...state.storage.sql.exec(`SELECT ${placeholders(100)}`, ...numbers(100)).raw()][0]).toHaveLength(100)
    })
  })
})
