// The Worker's structured log lines (log.ts: one JSON object per console.log) written while a piece of a test runs.
import { vi } from 'vitest'

export type LogLine = { level: string; msg: string; [field: string]: unknown }

/** Every JSON log line written while `fn` ran (lines that are not JSON are skipped). */
export async function logsOf(fn: () => Promise<unknown>): Promise<LogLine[]> {
  const spy = vi.spyOn(console, 'log')
  try {
    await fn()
    return spy.mock.calls.flatMap(([line]) => {
      try {
        return [JSON.parse(String(line)) as LogLine]
      } catch {
        return []
      }
    })
  } finally {
    spy.mockRestore()
  }
}
