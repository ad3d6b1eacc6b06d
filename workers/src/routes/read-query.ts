// Validates query-string parameters with a zod schema; 400 naming the bad parameter.
import type { Context } from 'hono'
import type { z } from 'zod'
import type { AppEnv } from '../env.ts'
import { ApiError } from '../errors.ts'

export function readQuery<S extends z.ZodType>(c: Context<AppEnv>, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query())
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const param = issue?.path.join('.') || null
  throw new ApiError('invalid_request', `Invalid query parameter${param ? ` '${param}'` : ''}: ${issue?.message ?? 'invalid'}`, {
    param,
    code: 'invalid_request',
  })
}
