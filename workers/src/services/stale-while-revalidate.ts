// One isolate-wide value read from D1 and served stale while it is re-read in the background (the node and fleet
// directories): a request waits for D1 only when there is no value (first use, or after an invalidation, which admin
// writes in this isolate make so they see their own change at once).
import { log } from '../log.ts'

/** A background refresh not done by then is presumed lost (e.g. cut off with the request that started it). */
const REFRESH_GIVE_UP_MS = 10_000

export type StaleWhileRevalidate<T> = {
  /**
   * The value, loaded with `read` when there is none or it is older than the refresh interval (then in the
   * background). `waitUntil` keeps a background refresh alive after the response (pass the request's).
   */
  get(read: () => Promise<T>, waitUntil?: (promise: Promise<unknown>) => void): Promise<T>
  invalidate(): void
}

/** `name` prefixes the log line of a failed refresh (`<name>_refresh_failed`). */
export function staleWhileRevalidate<T>(name: string, refreshMs: number): StaleWhileRevalidate<T> {
  let snapshot: { at: number; value: T } | null = null
  let loading: Promise<T> | null = null
  let refreshStartedAt: number | null = null
  /** Bumped by each invalidation, so a read that started before it cannot store what it read. */
  let generation = 0

  async function load(read: () => Promise<T>): Promise<T> {
    const startedIn = generation
    const value = await read()
    if (startedIn === generation) snapshot = { at: Date.now(), value }
    return value
  }

  return {
    async get(read, waitUntil) {
      if (snapshot) {
        const now = Date.now()
        const isRefreshing = refreshStartedAt !== null && now - refreshStartedAt < REFRESH_GIVE_UP_MS
        if (now - snapshot.at >= refreshMs && !isRefreshing) {
          refreshStartedAt = now
          const refresh = load(read)
            .catch((err: unknown) => {
              log.warn(`${name}_refresh_failed`, { error: String(err) })
            }) // stale value kept; the next request retries
            .finally(() => {
              refreshStartedAt = null
            })
          waitUntil?.(refresh)
        }
        return snapshot.value
      }
      if (!loading) {
        const started = load(read).finally(() => {
          if (loading === started) loading = null
        })
        loading = started
      }
      return loading
    },
    invalidate() {
      snapshot = null
      loading = null
      generation++
    },
  }
}
