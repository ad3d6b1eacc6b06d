// The sky command lines the runner builds, the spawn wrapper (capture, timeout), and how failures are classed.
import { describe, expect, it } from 'vitest'
import { downArgs, launchArgs, runCommand, statusIpArgs, type CommandResult } from './cli.ts'
import { classifyLaunchFailure } from './failures.ts'

describe('sky command lines', () => {
  it('launches detached, without prompting, on a named cluster, with secrets by name only', () => {
    expect(launchArgs('cic-a100-0badcafe', '/tmp/t/cic.sky.yaml', ['CIC_REGISTER_TOKEN', 'VLLM_API_KEY'])).toEqual([
      'launch',
      '-y',
      '-d',
      '-c',
      'cic-a100-0badcafe',
      '/tmp/t/cic.sky.yaml',
      '--secret',
      'CIC_REGISTER_TOKEN',
      '--secret',
      'VLLM_API_KEY',
    ])
  })

  it('tears down without prompting, and asks for the head IP to learn the cluster state', () => {
    expect(downArgs('cic-a100-0badcafe')).toEqual(['down', '-y', 'cic-a100-0badcafe'])
    expect(statusIpArgs('cic-a100-0badcafe')).toEqual(['status', '--ip', 'cic-a100-0badcafe'])
  })
})

describe('runCommand', () => {
  it('captures stdout, stderr and the exit code', async () => {
    const r = await runCommand('bash', ['-c', 'echo out; echo err >&2; exit 3'], { env: process.env, timeoutMs: 10_000 })
    expect(r).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false, aborted: false })
  })

  it('kills a command that outlives its timeout and says so', async () => {
    const r = await runCommand('bash', ['-c', 'echo started; exec sleep 30'], { env: process.env, timeoutMs: 200 })
    expect(r).toMatchObject({ exitCode: null, stdout: 'started\n', timedOut: true })
  })

  it('stops a command when the shutdown signal fires', async () => {
    const controller = new AbortController()
    const running = runCommand('bash', ['-c', 'exec sleep 30'], { env: process.env, timeoutMs: 60_000, signal: controller.signal })
    controller.abort()
    expect(await running).toMatchObject({ aborted: true, timedOut: false })
  })

  it('reports a binary that does not exist instead of throwing', async () => {
    const r = await runCommand('/nonexistent/sky', ['status'], { env: process.env, timeoutMs: 1_000 })
    expect(r.exitCode).toBeNull()
    expect(r.stderr).toMatch(/failed to start \/nonexistent\/sky/)
  })
})

const failed = (stderr: string, extra: Partial<CommandResult> = {}): CommandResult => ({
  exitCode: 1,
  stdout: 'Launching...\n',
  stderr,
  timedOut: false,
  aborted: false,
  ...extra,
})

describe('classifyLaunchFailure', () => {
  it.each([
    [
      'sky.exceptions.ResourcesUnavailableError: Failed to provision all possible launchable resources.\nReason: InsufficientInstanceCapacity: We currently do not have sufficient p4d capacity',
      'no_capacity',
      true,
    ],
    ['googleapiclient.errors.HttpError: ZONE_RESOURCE_POOL_EXHAUSTED: The zone does not have enough resources', 'no_capacity', true],
    [
      'sky.exceptions.ResourcesUnavailableError: Failed to acquire resources in all zones.\nReason: VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit',
      'quota',
      false,
    ],
    ["QUOTA_EXCEEDED: Quota 'NVIDIA_A100_GPUS' exceeded. Limit: 0.0 in region us-central1.", 'quota', false],
    ['sky.exceptions.CloudUserIdentityError: Failed to get AWS user identity: AWS credentials are not set.', 'auth', false],
    ['botocore.exceptions.ClientError: An error occurred (AuthFailure) when calling the RunInstances operation', 'auth', false],
    ['RuntimeError: Failed to run command before rsync', 'error', false],
    [
      'sky.exceptions.ResourcesUnavailableError: No launchable resource found for task cic-a100-1. Region: us-east-1.\nThis means the catalog does not contain any resources that satisfy this request.\nTo fix: relax or change the resource requirements.',
      'unsatisfiable',
      false,
    ],
    [
      'sky.exceptions.ResourcesUnavailableError: No launchable resource found for task sky-cmd. To fix: relax its resource requirements.',
      'unsatisfiable',
      false,
    ],
    // The optimizer's words after a failover that found every candidate out of capacity: still capacity.
    [
      'sky.exceptions.ResourcesUnavailableError: Failed to provision all possible launchable resources.\nNo launchable resource found for task x.\nReason: InsufficientInstanceCapacity',
      'no_capacity',
      true,
    ],
  ] as const)('classes %s as %s', (stderr, kind, isRetryable) => {
    const failure = classifyLaunchFailure(failed(stderr))
    expect(failure).toMatchObject({ kind, isRetryable })
    expect(failure.reason.startsWith(`${kind}: `)).toBe(true)
    expect(failure.reason).toContain(stderr.split('\n').at(-1)?.slice(0, 40))
  })

  it('classes a timeout as a failure that is not retried, whatever the output says', () => {
    expect(classifyLaunchFailure(failed('InsufficientInstanceCapacity', { timedOut: true, exitCode: null }))).toMatchObject({
      kind: 'timeout',
      isRetryable: false,
    })
  })

  it('strips terminal colours and keeps the reason short', () => {
    const failure = classifyLaunchFailure(failed(`\u001b[31mRuntimeError:\u001b[0m boom\n${'x'.repeat(5000)}`))
    expect(failure.reason).not.toContain('\u001b')
    expect(failure.reason.length).toBeLessThanOrEqual(1_010)
  })
})
