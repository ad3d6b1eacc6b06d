// Drives a vLLM stand-in started by the global setup through its /_standin/* control endpoints (the test
// runs in workerd, the stand-in in Node): change its behaviour live, read what it received.
import type { Knobs, Stats } from '../../../scripts/vllm-standin/server.ts'

async function control<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}/_standin/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`stand-in ${method} ${path} -> ${res.status}: ${await res.text()}`)
  return (await res.json()) as T
}

export const standin = (url: string) => ({
  url,
  setKnobs: (patch: Partial<Knobs>) => control<Knobs>(url, 'POST', 'knobs', patch),
  reset: () => control<Knobs>(url, 'POST', 'reset', {}),
  stats: () => control<Stats>(url, 'GET', 'stats'),
  /** Generation requests that reached this stand-in (chat and text completions). */
  generations: async () => {
    const s = await control<Stats>(url, 'GET', 'stats')
    return (s.requestsByPath['/v1/chat/completions'] ?? 0) + (s.requestsByPath['/v1/completions'] ?? 0)
  },
})
export type StandinControl = ReturnType<typeof standin>

/** Polls `read` until `done` accepts its value (for state written off the response path); fails after `tries`. */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, tries = 200): Promise<T> {
  let value = await read()
  for (let i = 0; i < tries && !done(value); i++) {
    await new Promise((r) => setTimeout(r, 10))
    value = await read()
  }
  if (!done(value)) throw new Error(`condition not met; last value: ${JSON.stringify(value)}`)
  return value
}
