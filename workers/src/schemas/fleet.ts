// The desired state of a model's fleet (PUT /admin/fleet/:model): how many ready nodes to keep, how many clusters
// at most, and where to launch them. A placement is a launch spec without the model (schemas/node-ops.ts), checked
// by the same launch policy as POST /admin/nodes/launch. Read by the admin route, the D1 schema and the
// FleetReconciler object (which launches from it).
import { z } from 'zod'
import { CLUSTER_NAME, launchPolicyProblem, launchSpecSchema } from './node-ops.ts'

/** One place to launch from: the launch API's fields without the model (the fleet's) and without remote code. */
export const fleetPlacementSchema = launchSpecSchema.omit({ model: true, allow_remote_code: true })
export type FleetPlacement = z.infer<typeof fleetPlacementSchema>

/** An upper bound on clusters per fleet, so a typo cannot ask for a thousand A100s. */
export const MAX_FLEET_NODES = 64

export const fleetDesiredSchema = z
  .strictObject({
    min_ready: z.number().int().min(0).max(MAX_FLEET_NODES),
    max_nodes: z.number().int().min(1).max(MAX_FLEET_NODES),
    placements: z.array(fleetPlacementSchema).min(1).max(8),
    /** After this many consecutive spot capacity failures, launches are on-demand (use_spot false); absent = never. */
    fallback_on_demand_after: z.number().int().min(1).max(100).optional(),
  })
  .superRefine((fleet, ctx) => {
    if (fleet.max_nodes < fleet.min_ready) {
      ctx.addIssue({ code: 'custom', path: ['max_nodes'], message: `must be at least min_ready (${fleet.min_ready})` })
    }
  })
export type FleetDesired = z.infer<typeof fleetDesiredSchema>

/** Model ids are launch-spec model ids (letters, digits, ._/:-), so a fleet can always launch its model. */
export const fleetModelSchema = launchSpecSchema.shape.model

/** The launch policy (providers, AWS A100 shape, vllm_args allowlist) for each placement, with the fleet's model. */
export function fleetPolicyProblem(model: string, fleet: FleetDesired): { param: string; message: string } | null {
  for (const [i, placement] of fleet.placements.entries()) {
    const problem = launchPolicyProblem({ ...placement, model })
    if (problem) return { param: `placements.${i}.${problem.param}`, message: problem.message }
  }
  return null
}

/** Where a preemption notice came from: the cloud's own warning, read by the node from its metadata service. */
export const PREEMPTION_SOURCES = ['aws_spot_interruption', 'gcp_preemption', 'azure_scheduled_event', 'other'] as const

/** POST /nodes/preemption-notice, sent by a launched node (its registration token) when its cloud warns of a preemption. */
export const preemptionNoticeSchema = z.strictObject({
  cluster_name: z.string().regex(CLUSTER_NAME),
  source: z.enum(PREEMPTION_SOURCES),
  /** When the cloud takes the instance (Unix ms), if it says: AWS gives 2 minutes, GCP about 30 s. */
  not_after: z.number().int().positive().optional(),
})
export type PreemptionNotice = z.infer<typeof preemptionNoticeSchema>
