// The outbox's retry schedule (pure): when the next delivery attempt runs after `failures` failed ones in a row.

/** First retry after 5 s, doubling, at most every 5 min: a Queue outage is waited out without hammering it. */
export const OUTBOX_FIRST_DELAY_MS = 5_000
export const OUTBOX_MAX_DELAY_MS = 300_000

export function outboxRetryDelayMs(failures: number): number {
  return Math.min(OUTBOX_MAX_DELAY_MS, OUTBOX_FIRST_DELAY_MS * 2 ** Math.max(0, failures - 1))
}
