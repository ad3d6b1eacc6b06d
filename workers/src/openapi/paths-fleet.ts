// OpenAPI paths of fleets (/admin/fleet, ADMIN_TOKEN): the desired state the routes parse with
// (schemas/fleet.ts) and the shape of the desired-against-actual view (services/fleet/fleet-store.ts fleetView).
import { z } from 'zod'
import { fleetDesiredSchema, fleetPlacementSchema, preemptionNoticeSchema } from '../schemas/fleet.ts'
import { operation } from './operations.ts'

const ADMIN_ERRORS = [400, 401, 404, 413, 500, 503]
const MODEL = { name: 'model', description: 'Model id of the fleet (ids contain `/`: Qwen%2FQwen2.5-7B-Instruct)' }

const fleetNodeSchema = z.object({
  cluster_name: z.string(),
  node_id: z.string(),
  status: z.string(),
  placement: z.number().int().nullable().describe('index into desired.placements'),
  use_spot: z.boolean(),
  provider: z.string(),
  last_error: z.string().nullable(),
  created_at: z.number().int(),
  updated_at: z.number().int().nullable(),
})

export const fleetViewSchema = z.object({
  object: z.literal('fleet'),
  model: z.string(),
  desired: z.object({
    min_ready: z.number().int(),
    max_nodes: z.number().int(),
    placements: z.array(fleetPlacementSchema),
    fallback_on_demand_after: z.number().int().nullable(),
  }),
  actual: z.object({
    ready: z.number().int(),
    launching: z.number().int().describe('queued, launching or warming'),
    draining: z.number().int(),
    terminating: z.number().int(),
    failed: z.number().int(),
    live: z.number().int().describe('clusters not yet terminated: what max_nodes bounds'),
    nodes: z.array(fleetNodeSchema),
  }),
  typical_ready_seconds: z.number().int().nullable().describe('observed launch-to-ready time (moving average)'),
  recent_actions: z.array(z.looseObject({ at: z.number().int(), actor: z.string(), action: z.string() })).describe('newest first, at most 20'),
  created_at: z.number().int(),
  updated_at: z.number().int().nullable(),
})

export const fleetPutResultSchema = fleetViewSchema.extend({
  reconcile: z
    .looseObject({ actions: z.array(z.looseObject({ action: z.string(), cluster_name: z.string().nullable() })) })
    .nullable()
    .describe('what the first reconcile did (null if it could not run now: the alarm and the cron retry)'),
})

export const fleetPaths = {
  '/nodes/preemption-notice': {
    post: operation('reportPreemptionNotice', {
      summary: "A launched node reports its cloud's preemption warning: it drains at once and its fleet launches the replacement",
      tag: 'Fleets',
      security: 'NodeRegistrationToken',
      errors: [400, 401, 413, 500, 503],
      body: preemptionNoticeSchema,
      ok: {
        200: {
          schema: z.object({
            object: z.literal('node.preemption_notice'),
            cluster_name: z.string(),
            node_id: z.string(),
            status: z.string(),
            applied: z.boolean().describe('false for a repeated notice, or a node that was not serving'),
          }),
          description: 'The node is draining',
        },
      },
    }),
  },
  '/admin/fleet': {
    get: operation('listFleets', {
      summary: 'List fleets, each desired against actual',
      tag: 'Fleets',
      security: 'AdminToken',
      errors: ADMIN_ERRORS,
      ok: { 200: { schema: z.object({ object: z.literal('list'), data: z.array(fleetViewSchema) }), description: 'Every fleet' } },
    }),
  },
  '/admin/fleet/{model}': {
    put: operation('putFleet', {
      summary: "Set a model's fleet: keep min_ready ready nodes, at most max_nodes clusters, launched from placements in order",
      description:
        'Audited. The reconciler (one Durable Object per fleet) runs at once, then on its alarm, every minute from the cron and whenever a fleet node fails or terminates. While no node is ready the model stays in /v1/models and requests get 503 no_available_node with Retry-After.',
      tag: 'Fleets',
      security: 'AdminToken',
      errors: ADMIN_ERRORS,
      params: [MODEL],
      body: fleetDesiredSchema,
      ok: {
        200: { schema: fleetPutResultSchema, description: 'The fleet was replaced' },
        201: { schema: fleetPutResultSchema, description: 'The fleet was created' },
      },
    }),
    get: operation('getFleet', {
      summary: 'Show a fleet: desired against actual, and recent reconciler actions',
      tag: 'Fleets',
      security: 'AdminToken',
      errors: ADMIN_ERRORS,
      params: [MODEL],
      ok: { 200: { schema: fleetViewSchema, description: 'The fleet' } },
    }),
    delete: operation('deleteFleet', {
      summary: 'Stop managing a fleet (its nodes keep running: terminate them by hand)',
      tag: 'Fleets',
      security: 'AdminToken',
      errors: ADMIN_ERRORS,
      params: [MODEL],
      ok: { 200: { schema: z.object({ object: z.literal('fleet.deleted'), model: z.string(), deleted: z.literal(true) }), description: 'Deleted' } },
    }),
  },
}
