// Open-loop arrival times for the load generator: when each request is due, fixed from the start and never
// moved by how fast earlier requests were answered (so a slow server shows as queueing delay, not as a lower
// send rate). Also the seeded PRNG every random choice of a run draws from, so `--seed` reproduces a run.

export type ArrivalMode = 'fixed' | 'poisson'

/** mulberry32: a small, fast 32-bit PRNG; the same seed gives the same sequence on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/**
 * Due times in ms from the start of the run, ascending, all `< durationMs`. `fixed`: t_i = i / rate.
 * `poisson`: exponential gaps with mean 1 / rate (the arrivals of many independent clients).
 */
export function arrivalTimes(ratePerSecond: number, durationMs: number, mode: ArrivalMode, random: () => number): Float64Array {
  if (!(ratePerSecond > 0) || !(durationMs > 0)) return new Float64Array(0)
  const meanGapMs = 1000 / ratePerSecond
  if (mode === 'fixed') {
    const count = Math.ceil(durationMs / meanGapMs - 1e-9)
    return Float64Array.from({ length: count }, (_, i) => i * meanGapMs)
  }
  const times: number[] = []
  // 1 - random() is in (0, 1], so the log is finite.
  for (let t = -Math.log(1 - random()) * meanGapMs; t < durationMs; t += -Math.log(1 - random()) * meanGapMs) times.push(t)
  return Float64Array.from(times)
}
