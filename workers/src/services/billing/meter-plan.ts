// Pure planning of Stripe meter events (no I/O, unit-tested): which closed hours are due, and for each tenant-hour
// whose usage exceeds what was already pushed, one new event with a deterministic identifier. Used by meter-push.ts.
export const HOUR_MS = 3_600_000

/** A tenant-hour's cost in micro-dollars: the sum of its usage_hourly rows' rounded costs (usage-cost.ts). */
export type HourTotal = { tenantId: string; stripeCustomerId: string; hourStart: number; microUsd: number }
export type HourPushed = { tenantId: string; hourStart: number; pushed: number; maxSeq: number }
export type PushIntent = { identifier: string; tenantId: string; hourStart: number; seq: number; stripeCustomerId: string; value: number }

/**
 * Hours [from, to) that are closed at `now`: an hour is closed once hourStart + 1 h <= now - grace, so usage
 * that reaches the ledger late (queue retries) still lands in its hour. `lookbackHours` bounds the rescan.
 */
export function closedHours(now: number, graceMs: number, lookbackHours: number): { from: number; to: number } {
  const to = Math.floor((now - graceMs) / HOUR_MS) * HOUR_MS
  return { from: to - lookbackHours * HOUR_MS, to }
}

/** `${tenantId}:${eventName}:${hourStart seconds}`, then `:1`, `:2` for corrections of the same hour. */
export function meterIdentifier(tenantId: string, eventName: string, hourStart: number, seq: number): string {
  const base = `${tenantId}:${eventName}:${Math.floor(hourStart / 1000)}`
  return seq === 0 ? base : `${base}:${seq}`
}

/**
 * The first push of an hour carries its total; usage recorded after that push (a long request finishing late, a
 * queue redelivery) becomes a correction carrying only the difference, under the next seq. Pushes that failed
 * count as pushed: they are re-sent verbatim, never re-aggregated under the same identifier.
 */
export function planMeterPushes(
  totals: readonly HourTotal[],
  pushed: readonly HourPushed[],
  eventName: string,
): { intents: PushIntent[]; overPushed: HourTotal[] } {
  const byHour = new Map(pushed.map((p) => [`${p.tenantId}@${p.hourStart}`, p]))
  const intents: PushIntent[] = []
  const overPushed: HourTotal[] = []
  for (const t of totals) {
    const done = byHour.get(`${t.tenantId}@${t.hourStart}`)
    const value = t.microUsd - (done?.pushed ?? 0)
    if (value < 0) overPushed.push(t) // the ledger is append-only, so this means a bug or deleted rows: report it
    if (value <= 0) continue
    const seq = done ? done.maxSeq + 1 : 0
    intents.push({
      identifier: meterIdentifier(t.tenantId, eventName, t.hourStart, seq),
      tenantId: t.tenantId,
      hourStart: t.hourStart,
      seq,
      stripeCustomerId: t.stripeCustomerId,
      value,
    })
  }
  return { intents, overPushed }
}
