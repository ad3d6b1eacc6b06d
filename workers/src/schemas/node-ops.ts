// The node-ops contract between the control plane (Worker) and orchestrator-runner: the admin launch body, the
// queue messages, the runner's reports and the node's self-registration. Imported by both sides, so the
// runner parses exactly what the Worker sends. Queue messages carry no secrets (see mintNodeCredentials).
import { z } from 'zod'
import { checkVllmArgs } from './vllm-args.ts'

/** SkyPilot's cloud enum (sky/utils/schemas.py @93a24d47); `infra` is `<provider>[/<region>]`. */
export const CLOUD_PROVIDERS = [
  'aws',
  'gcp',
  'azure',
  'lambda',
  'oci',
  'ibm',
  'scp',
  'kubernetes',
  'runpod',
  'vast',
  'vsphere',
  'cudo',
  'fluidstack',
  'paperspace',
  'primeintellect',
  'do',
  'nebius',
  'ssh',
  'slurm',
  'hyperbolic',
  'seeweb',
  'shadeform',
  'yotta',
  'mithril',
  'verda',
] as const

/**
 * Clouds the runner image can launch on (orchestrator-runner/Dockerfile installs SkyPilot's aws, gcp, azure,
 * lambda and oci extras, and gcloud for GCP) and whose nodes are reached on their own address and port.
 */
export const SUPPORTED_PROVIDERS = ['aws', 'gcp', 'azure', 'lambda', 'oci'] as const satisfies readonly CloudProvider[]
/** SkyPilot maps ports on these (a node is reached through `sky status --endpoint`, not IP:8000; platform-facts §10). */
const PORT_MAPPED_PROVIDERS: readonly CloudProvider[] = ['kubernetes', 'runpod']
type CloudProvider = (typeof CLOUD_PROVIDERS)[number]

// Values reach a bash script through environment variables; these character sets keep them inert there
// (no quotes, spaces, `$` or backticks) and valid inside the JSON the node posts when it registers.
const MODEL = /^[A-Za-z0-9][A-Za-z0-9._/:-]{0,255}$/
const VLLM_ARG = /^[A-Za-z0-9_./:=,+-]{1,200}$/
export const CLUSTER_NAME = /^[a-z][a-z0-9-]{2,62}$/

const vllmArg = z.string().regex(VLLM_ARG, 'letters, digits and _./:=,+- only (no spaces or quotes)')

/**
 * A launch spec's shape: what the node-ops queue carries and D1 stores (node_launches.spec). The launch API
 * adds the policy (launchNodeSchema); the runner checks it again (launchPolicyProblem) before it renders a task.
 */
export const launchSpecSchema = z.strictObject({
  provider: z.enum(CLOUD_PROVIDERS),
  region: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes (e.g. us-east-1)')
    .optional(),
  gpu: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/, 'an accelerator name such as A100 or A100-80GB'),
  gpu_count: z.number().int().min(1).max(16).default(1),
  model: z.string().regex(MODEL, 'a model id such as Qwen/Qwen2.5-7B-Instruct'),
  use_spot: z.boolean().default(false),
  disk_size: z.number().int().min(50).max(16_384).default(256),
  vllm_args: z.array(vllmArg).max(32).default([]),
  /** The admin's explicit switch for `--trust-remote-code`, absent = off (recorded in the launch's audit row with the spec). */
  allow_remote_code: z.boolean().optional(),
})

export type LaunchPolicyProblem = { param: string; message: string }

/**
 * What the launch API refuses beyond the shape, and the runner again: providers the runner image cannot serve,
 * a GPU shape a cloud never sells, and vllm_args outside the allowlist (schemas/vllm-args.ts). Null when fine.
 */
export function launchPolicyProblem(spec: z.infer<typeof launchSpecSchema>): LaunchPolicyProblem | null {
  if (PORT_MAPPED_PROVIDERS.includes(spec.provider)) {
    return {
      param: 'provider',
      message: `'${spec.provider}' maps node ports, so the gateway could not reach the node at its address; it is refused until nodes are reached through the private tunnel (issue 15). Supported: ${SUPPORTED_PROVIDERS.join(', ')}`,
    }
  }
  if (!(SUPPORTED_PROVIDERS as readonly string[]).includes(spec.provider)) {
    return { param: 'provider', message: `the runner image cannot launch on '${spec.provider}'. Supported: ${SUPPORTED_PROVIDERS.join(', ')}` }
  }
  // platform-facts §10: AWS sells A100 only as 8-GPU p4d/p4de; SkyPilot answers "No launchable resource found".
  if (spec.provider === 'aws' && /^A100(?:-|$)/i.test(spec.gpu) && spec.gpu_count !== 8) {
    return { param: 'gpu_count', message: `AWS sells ${spec.gpu} only in 8-GPU machines (p4d.24xlarge, p4de.24xlarge): use gpu_count 8, or another provider` }
  }
  const args = checkVllmArgs(spec.vllm_args, { allowRemoteCode: spec.allow_remote_code === true })
  if (!args.ok) return { param: `vllm_args.${args.index}`, message: args.message }
  return null
}

/** POST /admin/nodes/launch. Strict: an unknown field is an error naming it; a refused policy names its field. */
export const launchNodeSchema = launchSpecSchema.superRefine((spec, ctx) => {
  const problem = launchPolicyProblem(spec)
  if (problem) ctx.addIssue({ code: 'custom', path: problem.param.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)), message: problem.message })
})
export type LaunchNodeInput = z.input<typeof launchNodeSchema>
export type NodeLaunchSpec = z.infer<typeof launchNodeSchema>

const clusterName = z.string().regex(CLUSTER_NAME)
const nodeId = z.string().min(1).max(64)

export const launchMessageSchema = z.object({
  op: z.literal('launch'),
  cluster_name: clusterName,
  node_id: nodeId,
  spec: launchSpecSchema,
  requested_at: z.number().int().positive(),
})
export const terminateMessageSchema = z.object({
  op: z.literal('terminate'),
  cluster_name: clusterName,
  node_id: nodeId,
  requested_at: z.number().int().positive(),
})
/** One message on the `node-ops` queue (content type json). */
export const nodeOpMessageSchema = z.discriminatedUnion('op', [launchMessageSchema, terminateMessageSchema])
export type LaunchMessage = z.infer<typeof launchMessageSchema>
export type TerminateMessage = z.infer<typeof terminateMessageSchema>
export type NodeOpMessage = z.infer<typeof nodeOpMessageSchema>

export const NODE_STATUSES = ['queued', 'launching', 'warming', 'ready', 'draining', 'terminating', 'terminated', 'failed', 'gone'] as const
export type NodeStatus = (typeof NODE_STATUSES)[number]

/** What serves a node's API: every launched node runs vLLM; a registered one says which (default vllm). */
export const NODE_ENGINES = ['vllm', 'openai_compatible'] as const
export type NodeEngine = (typeof NODE_ENGINES)[number]

/** What the runner may report (POST /runner/nodes/:cluster/status); the control plane decides what it changes. */
export const RUNNER_STATUSES = ['launching', 'queued', 'failed', 'terminating', 'terminated'] as const
export type RunnerStatus = (typeof RUNNER_STATUSES)[number]
export const runnerStatusReportSchema = z.strictObject({
  status: z.enum(RUNNER_STATUSES),
  error: z.string().max(4000).optional(),
  /** The node's private path (tunnel, DNS, Access) could not be created, or not removed: counted in /metrics. */
  node_path_failure: z.enum(['create', 'cleanup']).optional(),
})
export type RunnerStatusReport = z.infer<typeof runnerStatusReportSchema>

/**
 * The control plane's answer to a report: the node's status after it, whether the report changed it, and the
 * status before it. A `launching` report applied from `queued` starts a new launch attempt (first launch,
 * relaunch, capacity retry); one applied from `launching` is a redelivery of the attempt in progress.
 */
export const runnerStatusResultSchema = z.object({
  cluster_name: z.string(),
  node_id: z.string(),
  status: z.enum(NODE_STATUSES),
  applied: z.boolean(),
  previous_status: z.enum(NODE_STATUSES),
})
export type RunnerStatusResult = z.infer<typeof runnerStatusResultSchema>

/** POST /runner/nodes/:cluster/credentials: fresh secrets for one launch attempt, returned once. */
export const nodeCredentialsSchema = z.object({
  cluster_name: z.string(),
  node_id: z.string(),
  register_token: z.string().min(32),
  vllm_api_key: z.string().min(32),
})
export type NodeCredentials = z.infer<typeof nodeCredentialsSchema>

/**
 * POST /runner/nodes/:cluster/credentials body: the endpoint the runner created for this attempt (the node's
 * tunnel hostname). Registration accepts that endpoint only. Optional only for runners older than the node path.
 */
export const nodeCredentialsRequestSchema = z.strictObject({
  endpoint: z.url({ protocol: /^https?$/, error: 'endpoint must be an http(s) URL' }).optional(),
})
export type NodeCredentialsRequest = z.infer<typeof nodeCredentialsRequestSchema>

/** POST /nodes/register, sent by the node's run script once vLLM answers /health. */
export const nodeRegistrationSchema = z.strictObject({
  cluster_name: clusterName,
  endpoint: z.url({ protocol: /^https?$/, error: 'endpoint must be an http(s) URL' }),
  models: z.array(z.string().regex(MODEL)).min(1).max(64),
})
export type NodeRegistration = z.infer<typeof nodeRegistrationSchema>
