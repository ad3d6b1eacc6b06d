// Runs in workerd before each test file: production's limits on every D1 statement and binding, also for tests that
// call a service directly instead of through an entry point (those are not counted as an invocation).
import { env } from 'cloudflare:workers'
import { installGuard } from '../src/platform/guard.ts'

installGuard(env)
