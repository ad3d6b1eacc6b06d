// The Cloudflare production limits CIC relies on, each with its number and where it is documented (paths in
// cloudflare/cloudflare-docs, src/content/docs/, checked 2026-12). Local workerd and SQLite enforce none of the
// first group; guard.ts enforces them while the tests run, so a statement production would refuse fails `npm test`.

/**
 * D1, per statement (a batch applies them to each of its statements): "Maximum bound parameters per query 100",
 * "Maximum SQL statement length 100,000 bytes", "Maximum string, BLOB or table row size 2,000,000 bytes"
 * (d1/platform/limits.mdx). Local SQLite binds about 32,766 parameters.
 */
export const D1_MAX_BOUND_PARAMETERS = 100
export const D1_MAX_STATEMENT_BYTES = 100_000
export const D1_MAX_VALUE_BYTES = 2_000_000

/**
 * D1: "Queries per Worker invocation: 1000 (Workers Paid) / 50 (Free)" (d1/platform/limits.mdx). Counted here
 * with each statement of a batch as one query, the safe reading.
 */
export const D1_MAX_QUERIES_PER_INVOCATION = 1_000

/**
 * Durable Object SQLite storage, per statement: "Maximum bound parameters per query 100", "Maximum SQL statement
 * length 100 KB", "Maximum string, BLOB or table row size 2 MB" (durable-objects/platform/limits.mdx).
 */
export const DO_SQL_MAX_BOUND_PARAMETERS = 100
export const DO_SQL_MAX_STATEMENT_BYTES = 100_000
export const DO_SQL_MAX_VALUE_BYTES = 2_000_000

/**
 * Workers Paid: "Subrequests 10,000/request" (50 on Free; raised from 1,000 in 2026, configurable with
 * `[limits] subrequests`). "A subrequest is any request that a Worker makes to either Internet resources using
 * the Fetch API or requests to other Cloudflare services like R2, KV, or D1" (workers/platform/limits.mdx,
 * "Subrequests"). Durable Objects are Workers: each call into an object is its own invocation with its own count.
 */
export const MAX_SUBREQUESTS_PER_INVOCATION = 10_000
