// Guards /runner with the RUNNER_TOKEN Worker secret shared with orchestrator-runner (same constant-time
// comparison as the admin token). While RUNNER_TOKEN is unset, every request is refused.
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'
import { tokensMatch } from './admin-auth.ts'

export const runnerAuth = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const presented = header.startsWith('Bearer ') ? header.slice(7) : ''
    const expected = c.get('config').RUNNER_TOKEN
    if (!presented || !expected || !(await tokensMatch(presented, expected))) {
      throw new ApiError('unauthorized', 'Invalid runner token.', { code: 'invalid_runner_token' })
    }
    await next()
  })
