// What the Worker may import from the NodeMonitor (and nothing else under durable-objects/node-monitor/): the
// object's snapshot shape, the outcome it is told of, and the breaker's pure rules the Worker applies to a cached
// snapshot between RPCs (routing-state.ts). The class itself is wired in index.ts.
export type { NodeSnapshot } from './monitor-state.ts'
export { monitorConfigShape } from './monitor-config.ts'
export type { NodeLoad } from './vllm-metrics.ts'
export { breakerVerdict, recordOutcome, secondsUntilRetry, type BreakerVerdict, type Outcome } from './breaker-state.ts'
