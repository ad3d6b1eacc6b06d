// Renders the SkyPilot task of one launch: resources (GPU, infra, spot, disk, autodown; no `ports:`, nothing is
// open inbound), a setup that installs vLLM (root-owned venv) and cloudflared, and a run script that keeps the
// node's secrets out of model code's reach: they go to root-only files at once; cloudflared (root) carries the
// tunnel the runner created; vLLM runs as its own `vllm` user on 127.0.0.1; the registration (root) announces
// the endpoint the runner created; on spot placements of aws, gcp and azure a root watcher then reports the
// cloud's preemption notice to /nodes/preemption-notice (preemptionWatchSnippet). Secrets are declared with null
// values and supplied by `--secret NAME`, so the YAML file never contains one. Every task rendered here validates
// against SkyPilot's schema (tests).
import { stringify } from 'yaml'
import type { LaunchMessage } from '../../../workers/src/schemas/node-ops.ts'

export const VLLM_PORT = 8000
/** cloudflared's metrics server on the node (loopback): `/ready` answers 200 once it holds a connection to the edge. */
export const TUNNEL_METRICS_PORT = 20241
export const REGISTER_BEGIN = '# >>> cic-register'
export const REGISTER_END = '# <<< cic-register'
/** Root-only directory (0700) holding the node's secrets, one file each (0600). */
export const SECRETS_DIR = '/etc/cic'

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

/** Secrets written to SECRETS_DIR on the node and never left in the job's environment. */
export const NODE_SECRETS = ['CIC_REGISTER_TOKEN', 'VLLM_API_KEY', 'CIC_TUNNEL_TOKEN'] as const

/** Secret names passed with `--secret NAME` (values come from the runner's environment for that one command). */
export const secretNames = (options: Pick<TaskOptions, 'hasHfToken'>) => [...NODE_SECRETS, ...(options.hasHfToken ? ['HF_TOKEN'] : [])]

// cloudflared from Cloudflare's apt repository (pkg.cloudflare.com, documented install for Debian/Ubuntu); vLLM in
// a root-owned venv the `vllm` user can run but not change; that user owns only its home (HF cache).
const SETUP = `set -euo pipefail
if ! command -v cloudflared >/dev/null 2>&1; then
  sudo mkdir -p --mode=0755 /usr/share/keyrings
  curl -fsSL https://pkg.cloudflare.com/cloudflare-main.gpg | sudo tee /usr/share/keyrings/cloudflare-main.gpg >/dev/null
  echo 'deb [signed-by=/usr/share/keyrings/cloudflare-main.gpg] https://pkg.cloudflare.com/cloudflared any main' | sudo tee /etc/apt/sources.list.d/cloudflared.list >/dev/null
  sudo apt-get update -qq && sudo apt-get install -y -qq cloudflared
fi
id -u vllm >/dev/null 2>&1 || sudo useradd --system --create-home --home-dir /var/lib/vllm --shell /usr/sbin/nologin vllm
command -v uv >/dev/null 2>&1 || { python3 -m pip install --quiet --user uv; export PATH="$HOME/.local/bin:$PATH"; }
sudo env "PATH=$PATH" uv venv --python 3.12 --seed /opt/cic-vllm
sudo env "PATH=$PATH" VIRTUAL_ENV=/opt/cic-vllm uv pip install "$CIC_VLLM_PIP_SPEC"
`

/**
 * Runs as root (the run script pipes it to \`sudo bash\`): waits for vLLM's /health on localhost and for cloudflared's
 * \`/ready\` (a connection to the edge: the endpoint answers), then registers the endpoint the runner created
 * (CIC_NODE_ENDPOINT), so the control plane's first health check already goes through. The token is read from its root-only file and handed to
 * curl in a header file (\`-H @file\`), never on a command line other users can read in /proc. Plain bash + curl,
 * between markers, so the SkyPilot stand-in runs exactly this text.
 */
export const REGISTER_SNIPPET = `${REGISTER_BEGIN}
set -u
cic_secrets="\${CIC_SECRETS_DIR:-${SECRETS_DIR}}"
cic_healthy=0
for _ in $(seq 1 "\${CIC_HEALTH_WAIT_SECONDS:-3600}"); do
  if curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:\${CIC_VLLM_PORT}/health"; then cic_healthy=1; break; fi
  if ! kill -0 "$VLLM_PID" 2>/dev/null; then echo "cic: vLLM exited before it became healthy" >&2; exit 1; fi
  sleep 1
done
if [ "$cic_healthy" != 1 ]; then echo "cic: vLLM was not healthy in time" >&2; exit 1; fi
cic_connected=0
for _ in $(seq 1 "\${CIC_HEALTH_WAIT_SECONDS:-3600}"); do
  if curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:\${CIC_TUNNEL_METRICS_PORT}/ready"; then cic_connected=1; break; fi
  sleep 1
done
if [ "$cic_connected" != 1 ]; then echo "cic: the tunnel did not connect to Cloudflare in time" >&2; exit 1; fi
cic_endpoint="\${CIC_NODE_ENDPOINT:?CIC_NODE_ENDPOINT is the endpoint the runner created}"
umask 077
printf 'Authorization: Bearer %s\\n' "$(cat "$cic_secrets/CIC_REGISTER_TOKEN")" > "$cic_secrets/register-header"
curl -fsS --max-time 15 --retry 10 --retry-delay 3 --retry-all-errors -o /dev/null -X POST "$CIC_REGISTER_URL" \\
  -H @"$cic_secrets/register-header" -H "Content-Type: application/json" \\
  --data "{\\"cluster_name\\":\\"$CIC_CLUSTER_NAME\\",\\"endpoint\\":\\"$cic_endpoint\\",\\"models\\":[\\"$MODEL_NAME\\"]}" \\
  || { echo "cic: registration with the control plane failed" >&2; exit 1; }
echo "cic: registered $CIC_CLUSTER_NAME at $cic_endpoint"
${REGISTER_END}`

export const WATCH_BEGIN = '# >>> cic-preemption-watch'
export const WATCH_END = '# <<< cic-preemption-watch'

/** Clouds whose spot instances announce their preemption in the instance metadata, and what the notice says. */
export const NOTICE_SOURCES = { aws: 'aws_spot_interruption', gcp: 'gcp_preemption', azure: 'azure_scheduled_event' } as const
export type NoticeProvider = keyof typeof NOTICE_SOURCES
const isNoticeProvider = (provider: string): provider is NoticeProvider => Object.hasOwn(NOTICE_SOURCES, provider)

// One probe per cloud: sets cic_notice=1 on a notice (and cic_time, the cloud's deadline, when it gives one).
// CIC_METADATA_BASE_URL exists for tests only: the run script's sudo does not preserve it, so on a node the
// watcher always asks the cloud's own metadata service.
const PROBES: Record<NoticeProvider, { base: string; probe: string }> = {
  // AWS: "We recommend that you check for these interruption notices every 5 seconds"; `spot/instance-action` is
  // 404 until EC2 decides to interrupt, then 200 `{"action": "terminate"|"stop"|"hibernate", "time": "<ISO 8601
  // UTC>"}`, two minutes ahead (docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html).
  // IMDSv2: a session token from `PUT /latest/api/token` (X-aws-ec2-metadata-token-ttl-seconds), sent back as
  // X-aws-ec2-metadata-token (the EC2 user guide's instance metadata chapter, ec2-instance-metadata).
  // That token only reads this instance's metadata, which any process on the node can do anyway: not a secret.
  aws: {
    base: 'http://169.254.169.254',
    probe: `cic_imds_token="$(curl -fsS --max-time 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$cic_md/latest/api/token" 2>/dev/null || true)"
  cic_code="$(curl -sS --max-time 2 -o "$cic_body" -w '%{http_code}' -H "X-aws-ec2-metadata-token: $cic_imds_token" "$cic_md/latest/meta-data/spot/instance-action" 2>/dev/null || true)"
  if [ "$cic_code" = 200 ]; then
    cic_notice=1
    cic_time="$(grep -o '"time"[[:space:]]*:[[:space:]]*"[^"]*"' "$cic_body" | head -n 1 | sed 's/.*"\\([^"]*\\)"$/\\1/')"
  fi`,
  },
  // GCP: `instance/preempted` is FALSE until Compute Engine preempts the VM, then TRUE; `?wait_for_change=true`
  // hangs until the value changes; `Metadata-Flavor: Google` is required (cloud.google.com/compute/docs/instances/
  // create-use-preemptible, "Detecting if a VM was preempted"; cloud.google.com/compute/docs/
  // storing-retrieving-metadata#waitforchange). Spot VMs get 30 s between ACPI G2 soft off and hard off (Compute
  // API `Scheduling.skipGuestOsShutdown` doc), and the metadata gives no deadline: no not_after. Read once
  // without waiting first, in case the value is already TRUE (then a wait would hang until the VM dies).
  gcp: {
    base: 'http://metadata.google.internal',
    probe: `cic_value="$(curl -fsS --max-time 5 -H 'Metadata-Flavor: Google' "$cic_md/computeMetadata/v1/instance/preempted" 2>/dev/null || true)"
  if [ "$cic_value" != TRUE ]; then
    cic_value="$(curl -fsS --max-time 300 -H 'Metadata-Flavor: Google' "$cic_md/computeMetadata/v1/instance/preempted?wait_for_change=true" 2>/dev/null || true)"
  fi
  if [ "$cic_value" = TRUE ]; then cic_notice=1; fi`,
  },
  // Azure: Scheduled Events at `/metadata/scheduledevents?api-version=...` with `Metadata: true` (without it: Bad
  // Request); a Spot eviction is an event `"EventType": "Preempt"` ("The Spot Virtual Machine is being deleted"),
  // minimum notice 30 s, `NotBefore` an RFC 1123 date ("Mon, 19 Sep 2016 18:29:47 GMT"); events of every VM in the
  // same availability set or scale-set placement group reach all of them, so only one whose `Resources` names this
  // VM counts (the docs' sample compares with the hostname) (learn.microsoft.com/azure/virtual-machines/linux/
  // scheduled-events; MicrosoftDocs/azure-docs articles/virtual-machines/linux/scheduled-events.md shows
  // api-version 2019-01-01; 2020-07-01 is the later version this uses). Events are split on `}` so NotBefore is
  // read from that Preempt event itself.
  azure: {
    base: 'http://169.254.169.254',
    probe: `curl -fsS --max-time 5 -H 'Metadata: true' "$cic_md/metadata/scheduledevents?api-version=2020-07-01" -o "$cic_body" 2>/dev/null || : > "$cic_body"
  cic_event="$(tr '}' '\\n' < "$cic_body" | grep '"EventType"[[:space:]]*:[[:space:]]*"Preempt"' | grep -F "\\"$(hostname)\\"" | head -n 1 || true)"
  if [ -n "$cic_event" ]; then
    cic_notice=1
    cic_time="$(printf '%s' "$cic_event" | grep -o '"NotBefore"[[:space:]]*:[[:space:]]*"[^"]*"' | sed 's/.*"\\([^"]*\\)"$/\\1/' || true)"
  fi`,
  },
}

/**
 * Runs as root, in the background, on spot placements of clouds that give a preemption notice, once the node
 * registered (the control plane drains only a warming or ready node). Polls the cloud's metadata service; on a
 * notice it POSTs {cluster_name, source, not_after?} to /nodes/preemption-notice with the node's registration
 * token (from its root-only file, handed to curl in a header file, never on a command line), retrying a few
 * times, and exits: one notice per node. Plain bash + curl between markers, so tests run exactly this text.
 */
export function preemptionWatchSnippet(provider: NoticeProvider): string {
  const { base, probe } = PROBES[provider]
  return `${WATCH_BEGIN}
set -u
cic_secrets="\${CIC_SECRETS_DIR:-${SECRETS_DIR}}"
cic_md="\${CIC_METADATA_BASE_URL:-${base}}"
cic_body="$(mktemp)"
cic_notice=0
cic_time=""
while [ "$cic_notice" != 1 ]; do
  ${probe}
  if [ "$cic_notice" != 1 ]; then sleep "\${CIC_PREEMPTION_POLL_SECONDS:-5}"; fi
done
rm -f "$cic_body"
cic_not_after=""
if [ -n "$cic_time" ]; then
  cic_seconds="$(date -u -d "$cic_time" +%s 2>/dev/null || true)"
  if [ -n "$cic_seconds" ]; then cic_not_after=",\\"not_after\\":\${cic_seconds}000"; fi
fi
echo "cic: preemption notice from ${NOTICE_SOURCES[provider]} (\${cic_time:-no deadline given})"
umask 077
printf 'Authorization: Bearer %s\\n' "$(cat "$cic_secrets/CIC_REGISTER_TOKEN")" > "$cic_secrets/notice-header"
curl -fsS --max-time 10 --retry 5 --retry-delay 2 --retry-all-errors -o /dev/null -X POST "$CIC_PREEMPTION_NOTICE_URL" \\
  -H @"$cic_secrets/notice-header" -H "Content-Type: application/json" \\
  --data "{\\"cluster_name\\":\\"$CIC_CLUSTER_NAME\\",\\"source\\":\\"${NOTICE_SOURCES[provider]}\\"$cic_not_after}" \\
  || { echo "cic: the preemption notice did not reach the control plane" >&2; exit 1; }
echo "cic: preemption notice sent for $CIC_CLUSTER_NAME"
${WATCH_END}`
}

/** The watcher's place in the run script: after the registration, in the background, as root. */
const watchStep = (
  provider: NoticeProvider,
) => `sudo --preserve-env=CIC_CLUSTER_NAME,CIC_PREEMPTION_NOTICE_URL bash >>"$HOME/cic-preemption-watch.log" 2>&1 <<'CIC_WATCH' &
${preemptionWatchSnippet(provider)}
CIC_WATCH
`

/** The node's preemption-notice URL, beside the registration URL (both the control plane's /nodes routes). */
export const preemptionNoticeUrl = (registerUrl: string) => new URL('preemption-notice', registerUrl).toString()

// CIC_VLLM_ARGS is split on spaces on purpose (validated: no spaces inside an argument, no glob or shell chars).
// Secrets: SkyPilot exports them to this job; they go to root-only files and are unset before anything else runs.
// cloudflared reads its token from TUNNEL_TOKEN (its documented env form of --token), never from argv; vLLM gets
// its key the same way (VLLM_API_KEY) and runs as \`vllm\` (setpriv), so model code (--trust-remote-code) cannot
// read the tunnel or registration token. The job lives as long as vLLM: if it dies, autodown removes the cluster.
const runScript = (watch: string) => `set -uo pipefail
sudo install -d -m 0700 -o root -g root ${SECRETS_DIR}
for cic_name in ${NODE_SECRETS.join(' ')}; do
  printf '%s' "\${!cic_name}" | sudo install -m 0600 -o root -g root /dev/stdin "${SECRETS_DIR}/$cic_name"
done
unset ${NODE_SECRETS.join(' ')}
sudo bash -c 'TUNNEL_TOKEN="$(cat ${SECRETS_DIR}/CIC_TUNNEL_TOKEN)" exec cloudflared tunnel --no-autoupdate --metrics 127.0.0.1:${TUNNEL_METRICS_PORT} run' >>"$HOME/cic-cloudflared.log" 2>&1 &
sudo --preserve-env=MODEL_NAME,CIC_VLLM_PORT,CIC_VLLM_ARGS,SKYPILOT_NUM_GPUS_PER_NODE,HF_TOKEN bash -c '
  VLLM_API_KEY="$(cat ${SECRETS_DIR}/VLLM_API_KEY)" exec setpriv --reuid=vllm --regid=vllm --init-groups \\
    env VLLM_API_KEY="$VLLM_API_KEY" HOME=/var/lib/vllm /opt/cic-vllm/bin/vllm serve "$MODEL_NAME" --host 127.0.0.1 --port "$CIC_VLLM_PORT" \\
    --tensor-parallel-size "$SKYPILOT_NUM_GPUS_PER_NODE" $CIC_VLLM_ARGS' &
VLLM_PID=$!
sudo --preserve-env=CIC_VLLM_PORT,CIC_TUNNEL_METRICS_PORT,CIC_NODE_ENDPOINT,CIC_REGISTER_URL,CIC_CLUSTER_NAME,MODEL_NAME,CIC_HEALTH_WAIT_SECONDS VLLM_PID="$VLLM_PID" bash <<'CIC_REGISTER'
${REGISTER_SNIPPET}
CIC_REGISTER
${watch}wait "$VLLM_PID"
`

/** `endpoint`: the node's endpoint on the private path (the runner created it; the only one registration accepts). */
export function buildTask(message: LaunchMessage, options: TaskOptions, endpoint: string): SkyTask {
  const { spec } = message
  // Only spot capacity is preempted; lambda and oci give no notice a node could read (the NodeMonitor's failed
  // health checks still catch the preemption there).
  const watcher = spec.use_spot && isNoticeProvider(spec.provider) ? spec.provider : null
  return {
    name: message.cluster_name,
    resources: {
      infra: spec.region ? `${spec.provider}/${spec.region}` : spec.provider,
      accelerators: { [spec.gpu]: spec.gpu_count },
      use_spot: spec.use_spot,
      disk_size: spec.disk_size,
      autostop: { idle_minutes: options.autodownIdleMinutes, down: true },
    },
    envs: {
      MODEL_NAME: spec.model,
      CIC_CLUSTER_NAME: message.cluster_name,
      CIC_REGISTER_URL: options.registerUrl,
      CIC_NODE_ENDPOINT: endpoint,
      CIC_VLLM_PORT: String(VLLM_PORT),
      CIC_TUNNEL_METRICS_PORT: String(TUNNEL_METRICS_PORT),
      CIC_VLLM_PIP_SPEC: options.vllmPipSpec,
      CIC_VLLM_ARGS: spec.vllm_args.join(' '),
      ...(watcher ? { CIC_PREEMPTION_NOTICE_URL: preemptionNoticeUrl(options.registerUrl) } : {}),
    },
    secrets: Object.fromEntries(secretNames(options).map((name) => [name, null])),
    setup: SETUP,
    run: runScript(watcher ? watchStep(watcher) : ''),
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

/** The preemption watcher of a rendered task's run script (spot placements on aws, gcp, azure only), or null. */
export function preemptionWatcher(run: string): string | null {
  const start = run.indexOf(WATCH_BEGIN)
  const end = run.indexOf(WATCH_END)
  return start === -1 || end === -1 ? null : run.slice(start, end + WATCH_END.length)
}
