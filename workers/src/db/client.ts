// The one place a drizzle client is built over the D1 binding.
import { drizzle } from 'drizzle-orm/d1'
import * as schema from './schema.ts'

export type Db = ReturnType<typeof build>
const build = (d1: D1Database) => drizzle(d1, { schema })

/** Building a client derives drizzle's relational config from the whole schema: once per binding, not per request. */
const clients = new WeakMap<D1Database, Db>()

export function createDb(d1: D1Database): Db {
  let db = clients.get(d1)
  if (!db) {
    db = build(d1)
    clients.set(d1, db)
  }
  return db
}
