// Every task the runner renders must be a valid SkyPilot task (validated against SkyPilot's own schema,
// task_merged, with the two documented adaptations in scripts/sky-standin/task-schema.ts), carry no secret, open
// no port, keep the node's secrets away from vLLM's user, and its registration snippet must do what the control
// plane expects when run by bash against a live server.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { expandCaseInsensitiveGroups, validateTask } from '../../../scripts/sky-standin/task-schema.ts'
import type { LaunchMessage } from '../../../workers/src/schemas/node-ops.ts'
import { buildTask, registrationSnippet, renderTaskYaml, secretNames, type TaskOptions } from './task-yaml.ts'

const ENDPOINT = 'https://cic-a100-80gb-0badcafe.nodes.example.com'
const OPTIONS: TaskOptions = { registerUrl: 'https://cic.example.com/nodes/register', vllmPipSpec: 'vllm==0.11.0', autodownIdleMinutes: 30, hasHfToken: false }
const message = (spec: Partial<LaunchMessage['spec']> = {}): LaunchMessage => ({
  op: 'launch',
  cluster_name: 'cic-a100-80gb-0badcafe',
  node_id: 'node_1',
  requested_at: 1,
  spec: {
    provider: 'aws',
    region: 'us-east-1',
    gpu: 'A100-80GB',
    gpu_count: 1,
    model: 'Qwen/Qwen2.5-7B-Instruct',
    use_spot: false,
    disk_size: 256,
    vllm_args: [],
    ...spec,
  },
})

describe('rendered task YAML', () => {
  it.each([
    ['aws, region, on-demand', {}, OPTIONS],
    [
      'gcp, no region, spot, 8 GPUs, vLLM args',
      { provider: 'gcp' as const, region: undefined, use_spot: true, gpu_count: 8, vllm_args: ['--max-model-len=32768', '--enable-prefix-caching'] },
      OPTIONS,
    ],
    ['azure A100 40GB, big disk, HF token', { provider: 'azure' as const, region: 'eastus', gpu: 'A100', disk_size: 2048 }, { ...OPTIONS, hasHfToken: true }],
    ['lambda', { provider: 'lambda' as const, region: 'us-east-1' }, OPTIONS],
    ['oci', { provider: 'oci' as const, region: 'us-ashburn-1' }, OPTIONS],
    ['kubernetes context', { provider: 'kubernetes' as const, region: 'gke-ctx' }, OPTIONS],
  ])("validates against SkyPilot's task schema: %s", (_, spec, options) => {
    const task = buildTask(message(spec), options, ENDPOINT)
    const parsed: unknown = parse(renderTaskYaml(task))
    expect(parsed).toEqual(task) // the YAML says exactly what was built
    expect(validateTask(parsed)).toBeNull()
  })

  it('asks for the GPU, infra, spot, disk and autodown, and opens no port', () => {
    const parsed = parse(
      renderTaskYaml(buildTask(message({ provider: 'gcp', region: 'us-central1', gpu_count: 4, use_spot: true, disk_size: 512 }), OPTIONS, ENDPOINT)),
    )
    expect(parsed.resources).toEqual({
      infra: 'gcp/us-central1',
      accelerators: { 'A100-80GB': 4 },
      use_spot: true,
      disk_size: 512,
      autostop: { idle_minutes: 30, down: true },
    })
    expect(parsed.resources).not.toHaveProperty('ports')
    expect(parsed.envs).toMatchObject({
      MODEL_NAME: 'Qwen/Qwen2.5-7B-Instruct',
      CIC_CLUSTER_NAME: 'cic-a100-80gb-0badcafe',
      CIC_REGISTER_URL: OPTIONS.registerUrl,
      CIC_NODE_ENDPOINT: ENDPOINT,
      CIC_VLLM_PORT: '8000',
    })
    expect(parsed.setup).toContain('uv pip install "$CIC_VLLM_PIP_SPEC"')
    expect(parsed.setup).toContain('apt-get install -y -qq cloudflared')
    expect(parsed.setup).toMatch(/useradd --system .* vllm/)
  })

  it('runs vLLM on localhost as the vllm user, cloudflared as root, and keeps every secret in root-only files', () => {
    const run: string = parse(renderTaskYaml(buildTask(message(), OPTIONS, ENDPOINT))).run
    // vLLM: loopback only, its own user, its key from the environment (argv is readable by every user in /proc).
    expect(run).toMatch(/setpriv --reuid=vllm --regid=vllm --init-groups/)
    expect(run).toMatch(/vllm serve "\$MODEL_NAME" --host 127\.0\.0\.1 --port "\$CIC_VLLM_PORT"/)
    expect(run).not.toMatch(/--api-key/)
    expect(run).not.toMatch(/0\.0\.0\.0/)
    // Secrets to /etc/cic (0700 root) as 0600 root files, then out of the job's environment, before anything starts.
    const lines = run.split('\n')
    const unsetAt = lines.findIndex((l) => l.startsWith('unset CIC_REGISTER_TOKEN VLLM_API_KEY CIC_TUNNEL_TOKEN'))
    expect(run).toContain('sudo install -d -m 0700 -o root -g root /etc/cic')
    expect(run).toContain('sudo install -m 0600 -o root -g root /dev/stdin "/etc/cic/$cic_name"')
    expect(unsetAt).toBeGreaterThan(0)
    expect(lines.findIndex((l) => l.includes('cloudflared tunnel'))).toBeGreaterThan(unsetAt)
    expect(lines.findIndex((l) => l.includes('vllm serve'))).toBeGreaterThan(unsetAt)
    // cloudflared: root, token from the root-only file through TUNNEL_TOKEN, never on its command line.
    expect(run).toContain(
      `sudo bash -c 'TUNNEL_TOKEN="$(cat /etc/cic/CIC_TUNNEL_TOKEN)" exec cloudflared tunnel --no-autoupdate --metrics 127.0.0.1:20241 run'`,
    )
    // The registration runs as root (it reads the token file); the token goes to curl in a header file.
    expect(run).toMatch(/VLLM_PID="\$VLLM_PID" bash <<'CIC_REGISTER'\n# >>> cic-register/)
    expect(registrationSnippet(run)).toContain('-H @"$cic_secrets/register-header"')
    expect(registrationSnippet(run)).not.toMatch(/Bearer \$CIC_REGISTER_TOKEN/)
  })

  it('declares the secrets with null values only, so the file never holds one', () => {
    const yaml = renderTaskYaml(buildTask(message(), { ...OPTIONS, hasHfToken: true }, ENDPOINT))
    expect(parse(yaml).secrets).toEqual({ CIC_REGISTER_TOKEN: null, VLLM_API_KEY: null, CIC_TUNNEL_TOKEN: null, HF_TOKEN: null })
    expect(secretNames({ hasHfToken: true })).toEqual(['CIC_REGISTER_TOKEN', 'VLLM_API_KEY', 'CIC_TUNNEL_TOKEN', 'HF_TOKEN'])
  })

  it('is checked by a validator that does reject invalid tasks', () => {
    const task = buildTask(message(), OPTIONS, ENDPOINT)
    expect(validateTask({ ...task, resources: { ...task.resources, infra: 'moon/us-east-1' } })?.join()).toMatch(/infra must match pattern/)
    expect(validateTask({ ...task, resources: { ...task.resources, cloud: 'moon' } })?.join()).toMatch(/case_insensitive_enum/)
    expect(validateTask({ ...task, envs: { PORT: 8000 } })?.join()).toMatch(/envs\/PORT must be string,null/)
    expect(validateTask({ ...task, gpu: 'A100' })?.join()).toMatch(/additional properties/)
  })
})

describe("the (?i:...) pattern rewrite used for SkyPilot's infra pattern", () => {
  it('expands letters into two-case classes and leaves the rest alone', () => {
    expect(expandCaseInsensitiveGroups('^(?:(?i:(aws|k8s))(?:/[^/]+)?|\\*)$')).toBe('^(?:(?:([aA][wW][sS]|[kK]8[sS]))(?:/[^/]+)?|\\*)$')
    const re = new RegExp(expandCaseInsensitiveGroups('^(?i:(aws|gcp))(?:/[^/]+)?$'))
    expect(['aws', 'AWS/us-east-1', 'Gcp/x'].every((s) => re.test(s))).toBe(true)
    expect(['azure', 'aws/a/b', 'xaws'].some((s) => re.test(s))).toBe(false)
  })

  it('refuses a character class inside a case-insensitive group instead of mistranslating it', () => {
    expect(() => expandCaseInsensitiveGroups('(?i:[a-z]+)')).toThrow(/not supported/)
  })
})

describe('the registration snippet (run by bash, as on the node)', () => {
  let server: Server
  let url: string
  let healthy = true
  let tunnelReady = true
  const registrations: { authorization: string | undefined; body: unknown }[] = []

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/health') return void res.writeHead(healthy ? 200 : 503).end()
      if (req.url === '/ready') return void res.writeHead(tunnelReady ? 200 : 503).end() // cloudflared's metrics server
      let body = ''
      req.on('data', (c: Buffer) => {
        body += c.toString()
      })
      req.on('end', () => {
        registrations.push({ authorization: req.headers.authorization, body: JSON.parse(body) })
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  const runSnippet = (env: Record<string, string>) => {
    const task = buildTask(message({ model: 'org/model-1.5B' }), { ...OPTIONS, registerUrl: `${url}/nodes/register` }, ENDPOINT)
    const secretsDir = mkdtempSync(path.join(tmpdir(), 'cic-etc-'))
    writeFileSync(path.join(secretsDir, 'CIC_REGISTER_TOKEN'), 'cicreg_test', { mode: 0o600 })
    const snippet = registrationSnippet(task.run)
    if (!snippet) throw new Error('no snippet')
    // Asynchronous: the fake control plane lives in this process and must keep answering while bash runs.
    return new Promise<{ status: number; stderr: string; secretsDir: string }>((resolve) => {
      execFile(
        'bash',
        ['-c', snippet],
        {
          timeout: 30_000,
          env: {
            PATH: process.env.PATH ?? '',
            ...task.envs,
            CIC_VLLM_PORT: String(new URL(url).port),
            CIC_TUNNEL_METRICS_PORT: String(new URL(url).port),
            CIC_SECRETS_DIR: secretsDir,
            VLLM_PID: String(process.pid),
            CIC_HEALTH_WAIT_SECONDS: '20',
            ...env,
          },
        },
        (err, _stdout, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr, secretsDir }),
      )
    })
  }

  it('waits for /health, then POSTs the cluster, the runner-created endpoint and model with the token from its file', async () => {
    healthy = true
    registrations.length = 0
    const result = await runSnippet({})
    expect(result.status, result.stderr).toBe(0)
    expect(registrations).toEqual([
      {
        authorization: 'Bearer cicreg_test',
        body: { cluster_name: 'cic-a100-80gb-0badcafe', endpoint: ENDPOINT, models: ['org/model-1.5B'] },
      },
    ])
    // The header file it handed curl is owner-only, like the token file.
    expect(statSync(path.join(result.secretsDir, 'register-header')).mode & 0o077).toBe(0)
    expect(readFileSync(path.join(result.secretsDir, 'register-header'), 'utf8')).toBe('Authorization: Bearer cicreg_test\n')
  })

  it('waits for cloudflared to be connected (its /ready) before registering, and gives up if it never is', async () => {
    healthy = true
    tunnelReady = false
    registrations.length = 0
    const result = await runSnippet({ CIC_HEALTH_WAIT_SECONDS: '2' })
    tunnelReady = true
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('the tunnel did not connect to Cloudflare in time')
    expect(registrations).toEqual([])
  })

  it('refuses to register without the endpoint the runner created (no public-IP fallback)', async () => {
    healthy = true
    registrations.length = 0
    const result = await runSnippet({ CIC_NODE_ENDPOINT: '' })
    expect(result.status).not.toBe(0)
    expect(result.stderr).toContain('CIC_NODE_ENDPOINT is the endpoint the runner created')
    expect(registrations).toEqual([])
  })

  it('gives up without registering when vLLM exits before it is healthy', async () => {
    healthy = false
    registrations.length = 0
    const result = await runSnippet({ VLLM_PID: '999999999' })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('vLLM exited before it became healthy')
    expect(registrations).toEqual([])
  })
})
