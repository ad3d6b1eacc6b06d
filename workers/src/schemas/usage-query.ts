// Query strings of the usage read APIs (our own API: unknown parameters are errors). Times are ISO 8601, Unix
// seconds or milliseconds (timestamp-param.ts), read as ms since epoch.
import { z } from 'zod'
import { requiredTimestampParam, timestampParam } from './timestamp-param.ts'

const range = { from: timestampParam, to: timestampParam }
const ordered = (q: { from?: number | undefined; to?: number | undefined }) => q.from === undefined || q.to === undefined || q.from < q.to
const orderedMessage = { message: 'to must be after from', path: ['to'] }

/** `GET /v1/usage`: a tenant's own usage. */
export const tenantUsageQuerySchema = z
  .strictObject({
    ...range,
    group_by: z.enum(['hour', 'day', 'model', 'key']).default('day'),
  })
  .refine(ordered, orderedMessage)

/** `GET /admin/usage`: every tenant's usage. */
export const adminUsageQuerySchema = z
  .strictObject({
    ...range,
    group_by: z.enum(['tenant', 'hour', 'day', 'model']).default('tenant'),
  })
  .refine(ordered, orderedMessage)

/** `GET /admin/usage/reconcile`: both ends are required, the report compares counters over exactly this window. */
export const reconcileQuerySchema = z.strictObject({ from: requiredTimestampParam, to: requiredTimestampParam }).refine(ordered, orderedMessage)

export type UsageGroupBy = z.infer<typeof tenantUsageQuerySchema>['group_by'] | z.infer<typeof adminUsageQuerySchema>['group_by']
