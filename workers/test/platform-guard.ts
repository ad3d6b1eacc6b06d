// Runs in workerd before each test file: production's limits on every D1 statement and binding, also for tests that
// call a service directly instead of through an entry point (those are not counted as an invocation). A refusal the
// code under test caught (and logged, or retried) still fails the test it happened in (background work that outlives
// its test: the next one).
import { env } from 'cloudflare:workers'
import { afterEach } from 'vitest'
import { installGuard, takeRefusals } from '../src/platform/guard.ts'

installGuard(env)

afterEach(() => {
  const unseen = takeRefusals()
  if (unseen.length > 0) throw new Error(`The platform guard refused what production would:\n${unseen.join('\n')}`)
})
