// One query-string timestamp for every time range of the read APIs (/v1/usage, /admin/usage,
// /admin/tenants/:id/usage, /admin/usage/reconcile, /admin/audit): ISO 8601, Unix seconds or milliseconds,
// always read as milliseconds since the epoch. An empty value (`?from=`, as a form leaves it) is absent.
import { z } from 'zod'

/** Bare numbers below this are Unix seconds (1e11 s is the year 5138; 1e11 ms is March 1973). */
export const SECONDS_BELOW = 1e11

// Date, optionally a time (minutes, seconds, fraction) and a zone; without a zone it is UTC. A '+' offset may
// arrive as a space: query strings decode '+' to ' ' (hono's getQueryParam does).
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+\- ]\d{2}:?\d{2})?)?$/i
const NUMBER = /^\d+(\.\d+)?$/

const MESSAGE = 'expected an ISO 8601 time (2025-01-01T00:00:00Z), Unix seconds or milliseconds since the epoch'

/** Milliseconds since the epoch, or null when `raw` is none of the accepted forms. */
export function parseTimestamp(raw: string): number | null {
  const text = raw.trim()
  if (NUMBER.test(text)) {
    const n = Number(text)
    if (n < SECONDS_BELOW) return Math.round(n * 1000)
    return Number.isSafeInteger(n) ? n : null
  }
  const m = ISO_8601.exec(text)
  if (!m) return null
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', zone = 'Z'] = m
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone[0] === ' ' ? '+' : zone[0]}${zone.slice(1, 3)}:${zone.slice(-2)}`
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${fraction.slice(0, 4)}${offset}`
  // Date.parse may roll an impossible date over (Feb 30): its fields, read back in UTC, must be the ones written.
  const fields = new Date(Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`))
  const isReal =
    fields.getUTCFullYear() === Number(y) &&
    fields.getUTCMonth() + 1 === Number(mo) &&
    fields.getUTCDate() === Number(d) &&
    fields.getUTCHours() === Number(h) &&
    fields.getUTCMinutes() === Number(mi) &&
    fields.getUTCSeconds() === Number(s)
  const ms = Date.parse(iso)
  return isReal && ms >= 0 ? ms : null
}

/** A required time: milliseconds since the epoch. */
export const requiredTimestampParam = z.string().transform((raw, ctx) => {
  const ms = parseTimestamp(raw)
  if (ms === null) ctx.addIssue({ code: 'custom', message: MESSAGE })
  return ms ?? 0
})

/** A `from`/`to` query parameter: milliseconds since the epoch, or undefined when absent or empty. */
export const timestampParam = z.preprocess((v) => (v === '' ? undefined : v), requiredTimestampParam.optional())
