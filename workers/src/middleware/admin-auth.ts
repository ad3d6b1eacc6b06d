// Guards /admin with the ADMIN_TOKEN Worker secret. The comparison is constant-time over SHA-256 digests, so
// neither the token's content nor its length leaks through timing; every failure looks the same.
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

export const adminAuth = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const presented = header.startsWith('Bearer ') ? header.slice(7) : ''
    if (!presented || !(await tokensMatch(presented, c.get('config').ADMIN_TOKEN))) {
      throw new ApiError('unauthorized', 'Invalid admin token.', { code: 'invalid_admin_token' })
    }
    await next()
  })
