// The isolate's node list: served from cache, refreshed in the background once older than 2 s (the request
// does not wait for D1), read at once after an invalidation. Rows are written straight to D1, as another
// isolate's admin write would be (invisible to this isolate until its refresh).
import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createDb } from '../../src/db/client.ts'
import { invalidateNodeDirectory, listNodes } from '../../src/services/nodes/node-directory.ts'

const SECRETS_KEY = 'test-secrets-key-0123456789'
const db = () => createDb(env.DB)
const insert = (id: string) =>
  env.DB.prepare("INSERT INTO nodes (id, name, endpoint, models, status) VALUES (?, ?, 'http://10.0.0.1:8000/', '[\"m\"]', 'ready')").bind(id, id).run()
const ids = (list: { id: string }[]) => list.map((n) => n.id).sort()

beforeEach(() => {
  invalidateNodeDirectory()
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('node directory', () => {
  it('serves the cached list while refreshing it in the background, then serves the refreshed one', async () => {
    await insert('node_dir_a')
    expect(ids(await listNodes(db(), SECRETS_KEY))).toEqual(['node_dir_a'])
    await insert('node_dir_b') // another isolate registered a node
    expect(ids(await listNodes(db(), SECRETS_KEY))).toEqual(['node_dir_a']) // fresh enough: no read

    vi.setSystemTime(Date.now() + 2_500)
    const background: Promise<unknown>[] = []
    const stale = await listNodes(db(), SECRETS_KEY, (p) => background.push(p))
    expect(ids(stale)).toEqual(['node_dir_a']) // answered from the cache, not after the D1 read
    expect(background).toHaveLength(1)
    // A second request meanwhile starts no second refresh.
    await listNodes(db(), SECRETS_KEY, (p) => background.push(p))
    expect(background).toHaveLength(1)
    await Promise.all(background)
    expect(ids(await listNodes(db(), SECRETS_KEY))).toEqual(['node_dir_a', 'node_dir_b'])
  })

  it('keeps serving the cached list when a background refresh fails', async () => {
    await insert('node_dir_c')
    const before = ids(await listNodes(db(), SECRETS_KEY))
    vi.setSystemTime(Date.now() + 2_500)
    const background: Promise<unknown>[] = []
    const broken = {
      select: () => {
        throw new Error('D1 unavailable')
      },
    } as unknown as ReturnType<typeof db>
    expect(ids(await listNodes(broken, SECRETS_KEY, (p) => background.push(p)))).toEqual(before)
    await Promise.all(background) // the failure is logged, not thrown
    expect(ids(await listNodes(db(), SECRETS_KEY))).toEqual(before)
  })

  it('leaves out a node whose key does not open under this SECRETS_KEY, and keeps the rest routable', async () => {
    await insert('node_dir_g')
    await env.DB.prepare(
      "INSERT INTO nodes (id, name, endpoint, models, status, api_key_ciphertext) VALUES ('node_dir_h', 'node_dir_h', 'http://10.0.0.2:8000', '[\"m\"]', 'ready', 'v1.not-sealed-here')",
    ).run()
    const listed = ids(await listNodes(db(), SECRETS_KEY))
    expect(listed).toContain('node_dir_g')
    expect(listed).not.toContain('node_dir_h')
  })

  it("reads D1 at once after an invalidation (this isolate's own admin write)", async () => {
    await insert('node_dir_d')
    await listNodes(db(), SECRETS_KEY)
    await insert('node_dir_e')
    invalidateNodeDirectory()
    expect(ids(await listNodes(db(), SECRETS_KEY))).toContain('node_dir_e')
  })

  it('does not let a refresh that read before an invalidation overwrite the newer list', async () => {
    await insert('node_dir_f')
    await listNodes(db(), SECRETS_KEY)
    vi.setSystemTime(Date.now() + 2_500)
    const background: Promise<unknown>[] = []
    await listNodes(db(), SECRETS_KEY, (p) => background.push(p)) // refresh in flight
    await env.DB.prepare("DELETE FROM nodes WHERE id = 'node_dir_f'").run()
    invalidateNodeDirectory()
    expect(ids(await listNodes(db(), SECRETS_KEY))).not.toContain('node_dir_f')
    await Promise.all(background)
    expect(ids(await listNodes(db(), SECRETS_KEY))).not.toContain('node_dir_f')
  })
})
