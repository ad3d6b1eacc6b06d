// Renders the SkyPilot task of one launch: resources (GPU, infra, spot, disk, port 8000, autodown), a setup
// that installs vLLM, and a run script that serves the model with the node's API key and then registers the
// node with the control plane. Secrets are declared with null values and supplied by `--secret NAME`, so the
// YAML file never contains one. Every task rendered here validates against SkyPilot's schema (tests).
import { stringify } from 'yaml'
import type { LaunchMessage } from '../../../workers/src/schemas/node-ops.ts'

export const VLLM_PORT = 8000
export const REGISTER_BEGIN = '# >>> cic-register'
export const REGISTER_END = '# <<< cic-register'

export type TaskOptions = {
  /** Where the node POSTs its registration (the control plane's /nodes/register). */
  registerUrl: string
  /** pip requirement for vLLM, e.g. `vllm==0.11.0`. */
  vllmPipSpec: string
  autodownIdleMinutes: number
  /** Adds HF_TOKEN as a secret (gated models). */
  hasHfToken: boolean
}

export type SkyTask = {
  name: string
  resources: Record<string, unknown>
  envs: Record<string, string>
  secrets: Record<string, null>
  setup: string
  run: string
}

/** Secret names passed with `--secret NAME` (values come from the runner's environment for that one command). */
export const secretNames = (options: Pick<TaskOptions, 'hasHfToken'>) => ['CIC_REGISTER_TOKEN', 'VLLM_API_KEY', ...(options.hasHfToken ? ['HF_TOKEN'] : [])]

const SETUP = `set -euo pipefail
command -v uv >/dev/null 2>&1 || { python3 -m pip install --quiet --user uv; export PATH="$HOME/.local/bin:$PATH"; }
uv venv --python 3.12 --seed "$HOME/cic-vllm"
source "$HOME/cic-vllm/bin/activate"
uv pip install "$CIC_VLLM_PIP_SPEC"
`

/**
 * Waits for vLLM's /health, then registers the node. Plain bash + curl, between markers, so the SkyPilot
 * stand-in runs exactly this text against its local vLLM stand-in. Values are inert in JSON and shell: the
 * control plane validated them (model, cluster name) or they come from curl (IP). CIC_NODE_ENDPOINT overrides
 * the public address, which is otherwise asked of checkip.amazonaws.com (works from any cloud).
 */
export const REGISTER_SNIPPET = `${REGISTER_BEGIN}
cic_healthy=0
for _ in $(seq 1 "\${CIC_HEALTH_WAIT_SECONDS:-3600}"); do
  if curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:\${CIC_VLLM_PORT}/health"; then cic_healthy=1; break; fi
  if ! kill -0 "$VLLM_PID" 2>/dev/null; then echo "cic: vLLM exited before it became healthy" >&2; exit 1; fi
  sleep 1
done
if [ "$cic_healthy" != 1 ]; then echo "cic: vLLM was not healthy in time" >&2; exit 1; fi
cic_endpoint="\${CIC_NODE_ENDPOINT:-}"
if [ -z "$cic_endpoint" ]; then
  cic_endpoint="http://$(curl -fsS --max-time 10 https://checkip.amazonaws.com | tr -d '[:space:]'):\${CIC_VLLM_PORT}"
fi
curl -fsS --max-time 15 --retry 10 --retry-delay 3 --retry-all-errors -o /dev/null -X POST "$CIC_REGISTER_URL" \\
  -H "Authorization: Bearer $CIC_REGISTER_TOKEN" -H "Content-Type: application/json" \\
  --data "{\\"cluster_name\\":\\"$CIC_CLUSTER_NAME\\",\\"endpoint\\":\\"$cic_endpoint\\",\\"models\\":[\\"$MODEL_NAME\\"]}" \\
  || { echo "cic: registration with the control plane failed" >&2; exit 1; }
echo "cic: registered $CIC_CLUSTER_NAME at $cic_endpoint"
${REGISTER_END}`

// CIC_VLLM_ARGS is split on spaces on purpose (validated: no spaces inside an argument, no glob or shell chars).
const RUN = `set -uo pipefail
source "$HOME/cic-vllm/bin/activate"
vllm serve "$MODEL_NAME" --host 0.0.0.0 --port "$CIC_VLLM_PORT" --api-key "$VLLM_API_KEY" \\
  --tensor-parallel-size "$SKYPILOT_NUM_GPUS_PER_NODE" $CIC_VLLM_ARGS &
VLLM_PID=$!
${REGISTER_SNIPPET}
# The job lives as long as vLLM: if it dies the cluster goes idle and autodown removes it.
wait "$VLLM_PID"
`

export function buildTask(message: LaunchMessage, options: TaskOptions): SkyTask {
  const { spec } = message
  return {
    name: message.cluster_name,
    resources: {
      infra: spec.region ? `${spec.provider}/${spec.region}` : spec.provider,
      accelerators: { [spec.gpu]: spec.gpu_count },
      use_spot: spec.use_spot,
      disk_size: spec.disk_size,
      ports: VLLM_PORT,
      autostop: { idle_minutes: options.autodownIdleMinutes, down: true },
    },
    envs: {
      MODEL_NAME: spec.model,
      CIC_CLUSTER_NAME: message.cluster_name,
      CIC_REGISTER_URL: options.registerUrl,
      CIC_VLLM_PORT: String(VLLM_PORT),
      CIC_VLLM_PIP_SPEC: options.vllmPipSpec,
      CIC_VLLM_ARGS: spec.vllm_args.join(' '),
    },
    secrets: Object.fromEntries(secretNames(options).map((name) => [name, null])),
    setup: SETUP,
    run: RUN,
  }
}

/** YAML with block scalars for the scripts, readable in `sky` logs and by operators. */
export const renderTaskYaml = (task: SkyTask): string => stringify(task, { lineWidth: 0, blockQuote: 'literal' })

/** The registration snippet of a rendered task's run script (what the SkyPilot stand-in executes). */
export function registrationSnippet(run: string): string | null {
  const start = run.indexOf(REGISTER_BEGIN)
  const end = run.indexOf(REGISTER_END)
  return start === -1 || end === -1 ? null : run.slice(start, end + REGISTER_END.length)
}
