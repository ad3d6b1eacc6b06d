import { describe, expect, it } from 'vitest'
import type { RoutableNode } from '../nodes/node-directory.ts'
import { chooseByAffinity, chooseByLoad, loadScore, holdNodeSlot, inFlightOn, type Candidate } from './pick-node.ts'

const NOW = 1_000_000
const MAX_AGE = 15_000
const node = (id: string): RoutableNode => ({ id, name: id, endpoint: `http://${id}`, models: ['m'], status: 'ready', engine: 'vllm', apiKey: null })
const cand = (id: string, inFlight: number, load?: Partial<NonNullable<Candidate['load']>>): Candidate => ({
  node: node(id),
  inFlight,
  load: load ? { waiting: 0, running: 0, kvCacheUsage: 0, scrapedAt: NOW, ...load } : null,
})
/** A deterministic "random" that replays a sequence. */
const seq = (...values: number[]) => {
  let i = 0
  return () => values[i++ % values.length] as number
}

describe('loadScore', () => {
  it('adds queue depth and KV pressure to requests in flight', () => {
    expect(loadScore(cand('a', 1), NOW, MAX_AGE)).toBe(1)
    expect(loadScore(cand('a', 1, { waiting: 3, kvCacheUsage: 0.5 }), NOW, MAX_AGE)).toBe(1 + 3 * 2 + 0.5 * 8)
  })
  it('counts the requests other isolates run on the node (vllm:num_requests_running), ours only once', () => {
    expect(loadScore(cand('a', 1, { running: 6 }), NOW, MAX_AGE)).toBe(6) // 5 more from other isolates
    expect(loadScore(cand('a', 4, { running: 2 }), NOW, MAX_AGE)).toBe(4) // ours started after the scrape
    expect(loadScore(cand('a', 2, { running: 2, waiting: 1 }), NOW, MAX_AGE)).toBe(2 + 1 * 2)
  })
  it('prefers the node running less across isolates when this isolate sends the same to both', () => {
    const list = [cand('busy', 1, { running: 12 }), cand('idle', 1, { running: 1 })]
    for (const r of [seq(0, 0), seq(0.6, 0)]) expect(chooseByLoad(list, NOW, MAX_AGE, r).node.id).toBe('idle')
  })
  it('ignores metrics older than the allowed age', () => {
    expect(loadScore(cand('a', 2, { waiting: 50, running: 40, scrapedAt: NOW - MAX_AGE - 1 }), NOW, MAX_AGE)).toBe(2)
  })
})

describe('chooseByLoad', () => {
  it('compares two distinct random candidates and takes the lower score', () => {
    const list = [cand('a', 0, { waiting: 9 }), cand('b', 0), cand('c', 0, { waiting: 1 })]
    // i = floor(0.0 * 3) = a; j = a + 1 + floor(0.5 * 2) = c  → c (score 2) beats a (18)
    expect(chooseByLoad(list, NOW, MAX_AGE, seq(0, 0.5)).node.id).toBe('c')
    // i = b, j = c → b
    expect(chooseByLoad(list, NOW, MAX_AGE, seq(0.4, 0)).node.id).toBe('b')
  })

  it('never picks the most loaded of three when sampling pairs', () => {
    const list = [cand('hot', 0, { waiting: 20, kvCacheUsage: 0.95 }), cand('x', 3, {}), cand('y', 5, {})]
    const picks = new Map<string, number>()
    for (let i = 0; i < 300; i++) {
      const id = chooseByLoad(list, NOW, MAX_AGE).node.id
      picks.set(id, (picks.get(id) ?? 0) + 1)
    }
    expect(picks.get('hot')).toBeUndefined() // the highest score loses every pair it is in
    expect(picks.get('y')).toBeGreaterThan(0) // y wins its pair with hot (1 in 3 pairs)
    expect(picks.get('x')).toBeGreaterThan(picks.get('y') ?? 0)
  })

  it('falls back to the least requests in flight when no node has recent metrics', () => {
    const list = [cand('a', 2), cand('b', 1), cand('c', 1), cand('d', 4)]
    expect(chooseByLoad(list, NOW, MAX_AGE, seq(0)).node.id).toBe('b')
    expect(chooseByLoad(list, NOW, MAX_AGE, seq(0.99)).node.id).toBe('c') // ties at random
  })

  it('returns the only candidate', () => {
    expect(chooseByLoad([cand('solo', 99, { waiting: 99 })], NOW, MAX_AGE).node.id).toBe('solo')
  })
})

describe('chooseByAffinity', () => {
  const list = ['n1', 'n2', 'n3', 'n4'].map((id) => cand(id, 0))

  it('sends the same key to the same node, whatever the order or load of the candidates', () => {
    const first = chooseByAffinity(list, 'tenant:session-1').node.id
    const shuffled = [...list].reverse().map((c) => ({ ...c, inFlight: 7 }))
    expect(chooseByAffinity(shuffled, 'tenant:session-1').node.id).toBe(first)
  })

  it('spreads keys over the nodes', () => {
    const counts = new Map<string, number>()
    for (let i = 0; i < 400; i++) {
      const id = chooseByAffinity(list, `t:${i}`).node.id
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
    expect([...counts.values()].every((n) => n > 50)).toBe(true)
  })

  it('moves only the keys of a node that leaves', () => {
    const keys = Array.from({ length: 300 }, (_, i) => `t:${i}`)
    const before = new Map(keys.map((k) => [k, chooseByAffinity(list, k).node.id]))
    const without = list.filter((c) => c.node.id !== 'n2')
    for (const k of keys) {
      const after = chooseByAffinity(without, k).node.id
      if (before.get(k) !== 'n2') expect(after).toBe(before.get(k))
    }
  })
})

describe('holdNodeSlot', () => {
  it('counts up and down once per request, even if released twice', () => {
    const release = holdNodeSlot('node-x')
    holdNodeSlot('node-x')
    expect(inFlightOn('node-x')).toBe(2)
    release()
    release()
    expect(inFlightOn('node-x')).toBe(1)
  })
})
