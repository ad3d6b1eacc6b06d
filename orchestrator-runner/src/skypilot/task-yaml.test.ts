// Every task the runner renders must be a valid SkyPilot task (validated against SkyPilot's own schema,
// task_merged, with the two documented adaptations in scripts/sky-standin/task-schema.ts), carry no secret, open
// no port, keep the node's secrets away from vLLM's user, and its registration snippet must do what the control
// plane expects when run by bash against a live server.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import path from 'node:path'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { expandCaseInsensitiveGroups, validateTask } from '../../../scripts/sky-standin/task-schema.ts'
import type { LaunchMessage } from '../../../workers/src/schemas/node-ops.ts'
import { buildTask, preemptionWatcher, registrationSnippet, renderTaskYaml, secretNames, type TaskOptions } from './task-yaml.ts'

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

describe('the preemption watcher in the run script', () => {
  it.each([
    ['aws', 'aws_spot_interruption', '169.254.169.254/latest/meta-data/spot/instance-action'],
    ['gcp', 'gcp_preemption', 'metadata.google.internal/computeMetadata/v1/instance/preempted?wait_for_change=true'],
    ['azure', 'azure_scheduled_event', '169.254.169.254/metadata/scheduledevents?api-version=2020-07-01'],
  ] as const)('runs for a spot placement on %s (as root, after the registration), reading the token from its file', (provider, source, url) => {
    const task = buildTask(message({ provider, use_spot: true, gpu_count: 8 }), OPTIONS, ENDPOINT)
    const watcher = preemptionWatcher(task.run)
    expect(watcher).not.toBeNull()
    expect(watcher).toContain(url.split('/')[0]) // the cloud's own metadata host by default
    expect(watcher).toContain(url.slice(url.indexOf('/')))
    expect(watcher).toContain(`\\"source\\":\\"${source}\\"`)
    expect(task.envs.CIC_PREEMPTION_NOTICE_URL).toBe('https://cic.example.com/nodes/preemption-notice')
    // Root (sudo), in the background, after the registration heredoc and before the job waits on vLLM.
    const lines = task.run.split('\n')
    const start = lines.findIndex((l) => l.includes("<<'CIC_WATCH' &"))
    expect(lines[start]).toMatch(/^sudo --preserve-env=CIC_CLUSTER_NAME,CIC_PREEMPTION_NOTICE_URL bash /)
    expect(start).toBeGreaterThan(lines.indexOf('CIC_REGISTER'))
    expect(start).toBeLessThan(lines.indexOf('wait "$VLLM_PID"'))
    // The token: from the root-only file, into a header file for curl; never expanded on a command line.
    expect(watcher).toContain(`"$(cat "$cic_secrets/CIC_REGISTER_TOKEN")" > "$cic_secrets/notice-header"`)
    expect(watcher).toContain('-H @"$cic_secrets/notice-header"')
    expect(watcher).not.toMatch(/Bearer \$/)
    expect(watcher?.match(/Authorization/g)).toHaveLength(1) // only in the header file's printf
    // The test-only override of the metadata URL cannot reach the node's root shell.
    expect(lines[start]).not.toContain('CIC_METADATA_BASE_URL')
  })

  it.each([
    ['aws on-demand', { provider: 'aws' as const, use_spot: false }],
    ['gcp on-demand', { provider: 'gcp' as const, use_spot: false }],
    ['azure on-demand', { provider: 'azure' as const, use_spot: false }],
    ['lambda spot (no notice to read)', { provider: 'lambda' as const, use_spot: true }],
  ])('is absent for %s', (_, spec) => {
    const task = buildTask(message(spec), OPTIONS, ENDPOINT)
    expect(preemptionWatcher(task.run)).toBeNull()
    expect(task.run).not.toContain('CIC_WATCH')
    expect(task.envs).not.toHaveProperty('CIC_PREEMPTION_NOTICE_URL')
  })

  it('leaves every rendered run script valid bash (bash -n)', async () => {
    for (const [provider, use_spot] of [
      ['aws', true],
      ['gcp', true],
      ['azure', true],
      ['aws', false],
    ] as const) {
      const run = buildTask(message({ provider, use_spot, gpu_count: 8 }), OPTIONS, ENDPOINT).run
      const status = await new Promise<number>((resolve) => {
        const child = execFile('bash', ['-n'], (err) => resolve(err ? 1 : 0))
        child.stdin?.end(run)
      })
      expect(status, `${provider} spot=${use_spot}`).toBe(0)
    }
  })
})

describe('the preemption watcher (run by bash against stand-ins of the metadata service and the gateway)', () => {
  // The metadata stand-in: no notice for the first `quietPolls` reads, then the cloud's notice. It refuses what
  // the real service refuses: AWS IMDSv2 without the session token (401), GCP without Metadata-Flavor (403),
  // Azure without `Metadata: true` (400).
  let metadata: Server
  let gateway: Server
  let metadataUrl: string
  let gatewayUrl: string
  let quietPolls = 0
  let polls = 0
  let refused = 0
  let tokensIssued = 0
  let gatewayFailures = 0
  const notices: { authorization: string | undefined; url: string | undefined; body: unknown }[] = []
  const NOT_AFTER_ISO = '2026-12-05T18:02:00Z'
  const NOT_AFTER_RFC1123 = 'Sat, 05 Dec 2026 18:02:00 GMT'
  const NOT_AFTER_MS = Date.parse(NOT_AFTER_ISO)

  beforeAll(async () => {
    metadata = createServer((req, res) => {
      const url = req.url ?? ''
      if (req.method === 'PUT' && url === '/latest/api/token') {
        tokensIssued++
        return void res.writeHead(200).end(`imds-token-${tokensIssued}`)
      }
      if (url === '/latest/meta-data/spot/instance-action') {
        if (!String(req.headers['x-aws-ec2-metadata-token'] ?? '').startsWith('imds-token-')) return refuse(res, 401)
        polls++
        if (polls <= quietPolls) return void res.writeHead(404).end('Not Found')
        return void res.writeHead(200, { 'content-type': 'text/plain' }).end(JSON.stringify({ action: 'terminate', time: NOT_AFTER_ISO }))
      }
      if (url.startsWith('/computeMetadata/v1/instance/preempted')) {
        if (req.headers['metadata-flavor'] !== 'Google') return refuse(res, 403)
        polls++
        return void res.writeHead(200).end(polls <= quietPolls ? 'FALSE' : 'TRUE')
      }
      if (url === '/metadata/scheduledevents?api-version=2020-07-01') {
        if (req.headers.metadata !== 'true') return refuse(res, 400)
        polls++
        const freeze = {
          EventId: 'f',
          EventType: 'Freeze',
          ResourceType: 'VirtualMachine',
          Resources: [hostname()],
          EventStatus: 'Scheduled',
          NotBefore: 'Sat, 05 Dec 2026 19:00:00 GMT',
        }
        // Another VM of the same availability set being evicted: delivered here too, not this node's notice.
        const other = { ...freeze, EventId: 'o', EventType: 'Preempt', Resources: ['some-other-vm'], NotBefore: 'Sat, 05 Dec 2026 17:00:00 GMT' }
        const mine = { ...freeze, EventId: 'p', EventType: 'Preempt', NotBefore: NOT_AFTER_RFC1123 }
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ DocumentIncarnation: polls, Events: polls <= quietPolls ? [freeze, other] : [freeze, other, mine] }))
      }
      res.writeHead(404).end()
    })
    gateway = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => {
        body += c.toString()
      })
      req.on('end', () => {
        notices.push({ authorization: req.headers.authorization, url: req.url, body: JSON.parse(body) })
        if (gatewayFailures > 0) {
          gatewayFailures--
          return void res.writeHead(503).end()
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      })
    })
    await Promise.all([metadata, gateway].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))))
    metadataUrl = `http://127.0.0.1:${(metadata.address() as AddressInfo).port}`
    gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`
  })
  const refuse = (res: ServerResponse, status: number) => {
    refused++
    res.writeHead(status).end()
  }
  afterAll(() => Promise.all([metadata, gateway].map((s) => new Promise<void>((resolve) => s.close(() => resolve())))))

  const runWatcher = (provider: 'aws' | 'gcp' | 'azure') => {
    const task = buildTask(message({ provider, use_spot: true, gpu_count: 8 }), { ...OPTIONS, registerUrl: `${gatewayUrl}/nodes/register` }, ENDPOINT)
    const secretsDir = mkdtempSync(path.join(tmpdir(), 'cic-etc-'))
    writeFileSync(path.join(secretsDir, 'CIC_REGISTER_TOKEN'), 'cicreg_watch', { mode: 0o600 })
    const watcher = preemptionWatcher(task.run)
    if (!watcher) throw new Error('no watcher')
    return new Promise<{ status: number; stdout: string; stderr: string; secretsDir: string }>((resolve) => {
      execFile(
        'bash',
        ['-c', watcher],
        {
          timeout: 30_000,
          env: {
            PATH: process.env.PATH ?? '',
            ...task.envs,
            CIC_SECRETS_DIR: secretsDir,
            CIC_METADATA_BASE_URL: metadataUrl,
            CIC_PREEMPTION_POLL_SECONDS: '0.05',
          },
        },
        (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, secretsDir }),
      )
    })
  }

  const reset = (quiet: number, failures = 0) => {
    quietPolls = quiet
    polls = 0
    refused = 0
    tokensIssued = 0
    gatewayFailures = failures
    notices.length = 0
  }

  it.each([
    ['aws', { source: 'aws_spot_interruption', not_after: NOT_AFTER_MS }],
    ['gcp', { source: 'gcp_preemption' }],
    ['azure', { source: 'azure_scheduled_event', not_after: NOT_AFTER_MS }],
  ] as const)('%s: polls until the notice, then posts exactly one notice with the node token and exits', async (provider, expected) => {
    reset(3)
    const result = await runWatcher(provider)
    expect(result.status, result.stderr).toBe(0)
    expect(notices).toEqual([
      { authorization: 'Bearer cicreg_watch', url: '/nodes/preemption-notice', body: { cluster_name: 'cic-a100-80gb-0badcafe', ...expected } },
    ])
    expect(polls).toBeGreaterThan(3) // it did read "no notice" first and kept polling
    expect(refused).toBe(0) // every read carried the header the real service requires
    if (provider === 'aws') expect(tokensIssued).toBeGreaterThan(0)
    expect(statSync(path.join(result.secretsDir, 'notice-header')).mode & 0o077).toBe(0)
  })

  it('retries when the gateway fails, and stops at the first accepted notice', async () => {
    reset(0, 1)
    const result = await runWatcher('aws')
    expect(result.status, result.stderr).toBe(0)
    expect(notices.map((n) => n.body)).toEqual([
      { cluster_name: 'cic-a100-80gb-0badcafe', source: 'aws_spot_interruption', not_after: NOT_AFTER_MS },
      { cluster_name: 'cic-a100-80gb-0badcafe', source: 'aws_spot_interruption', not_after: NOT_AFTER_MS },
    ])
  }, 40_000)
})
