import { describe, expect, it } from 'vitest'
import { GroupCommit } from './group-commit.ts'

describe('GroupCommit', () => {
  it('runs calls made together in one transaction, in order, each getting its own result', async () => {
    const transactions: string[][] = []
    const order: string[] = []
    const batch = new GroupCommit((run) => { const t: string[] = []; transactions.push(t); run(); t.push(...order.splice(0)) })
    const results = await Promise.all(['a', 'b', 'c'].map((name) => batch.run(() => { order.push(name); return name.toUpperCase() })))
    expect(results).toEqual(['A', 'B', 'C'])
    expect(transactions).toEqual([['a', 'b', 'c']])
    await batch.run(() => order.push('d'))
    expect(transactions).toHaveLength(2)
  })

  it('rejects only the call that threw', async () => {
    const batch = new GroupCommit((run) => run())
    const [ok, failed] = await Promise.allSettled([batch.run(() => 1), batch.run(() => { throw new Error('boom') })])
    expect(ok).toEqual({ status: 'fulfilled', value: 1 })
    expect(failed).toMatchObject({ status: 'rejected', reason: { message: 'boom' } })
  })
})
