// The one place a drizzle client is built over the D1 binding.
import { drizzle } from 'drizzle-orm/d1'
import * as schema from './schema.ts'

export type Db = ReturnType<typeof createDb>
export const createDb = (d1: D1Database) => drizzle(d1, { schema })
