// The one guard for the operator secrets sent as `Authorization: Bearer …`: ADMIN_TOKEN (/admin), RUNNER_TOKEN
// (/runner, shared with orchestrator-runner) and METRICS_TOKEN (GET /metrics). The comparison is constant-time
// over SHA-256 digests, so neither the token's content nor its length leaks through timing; an unset secret
// refuses everyone, and every failure looks the same. It runs before any route reads a body.
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'

const encoder = new TextEncoder()
const digest = async (text: string) => new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)))

export async function tokensMatch(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(presented), digest(expected)])
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

/** The client's error for each secret: message and code. */
const REFUSALS = {
  ADMIN_TOKEN: ['Invalid admin token.', 'invalid_admin_token'],
  RUNNER_TOKEN: ['Invalid runner token.', 'invalid_runner_token'],
  METRICS_TOKEN: ['Invalid metrics token.', 'invalid_metrics_token'],
} as const

export type BearerSecret = keyof typeof REFUSALS

export const bearerAuth = (secret: BearerSecret) =>
  createMiddleware<AppEnv>(async function bearerAuth(c, next) {
    const header = c.req.header('authorization') ?? ''
    const presented = header.startsWith('Bearer ') ? header.slice(7) : ''
    const expected = c.get('config')[secret]
    if (!presented || !expected || !(await tokensMatch(presented, expected))) {
      const [message, code] = REFUSALS[secret]
      throw new ApiError('unauthorized', message, { code })
    }
    await next()
  })
