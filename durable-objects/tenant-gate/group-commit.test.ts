import { describe, expect, it } from 'vitest'
import { GroupCommit } from './group-commit.ts'

describe('GroupCommit', () => {
  it('runs calls made together in one synchronous turn, in order, each getting its own result', async () => {
    const order: string[] = []
    const batch = new GroupCommit()
    const results = await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        batch.run(() => {
          order.push(name)
          queueMicrotask(() => order.push(`after ${name}`)) // runs only once the turn is over
          return name.toUpperCase()
        }),
      ),
    )
    expect(results).toEqual(['A', 'B', 'C'])
    expect(order).toEqual(['a', 'b', 'c', 'after a', 'after b', 'after c'])
    await batch.run(() => order.push('d'))
    expect(order.at(-1)).toBe('d')
  })

  it('rejects only the call that threw', async () => {
    const batch = new GroupCommit()
    const [ok, failed] = await Promise.allSettled([
      batch.run(() => 1),
      batch.run(() => {
        throw new Error('boom')
      }),
    ])
    expect(ok).toEqual({ status: 'fulfilled', value: 1 })
    expect(failed).toMatchObject({ status: 'rejected', reason: { message: 'boom' } })
  })
})
