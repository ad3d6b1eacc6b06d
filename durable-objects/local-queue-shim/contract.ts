// What the Worker may import from the local queue shim (and nothing else under durable-objects/local-queue-shim/):
// the pull options the dev-only /local-queues route passes through. The class itself is wired in index.ts.
export { pullOptions } from './queue-shim-core.ts'
