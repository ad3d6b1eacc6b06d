import { describe, expect, it } from 'vitest'
import { loadRunnerConfig } from './config.ts'

const ENV = {
  CLOUDFLARE_ACCOUNT_ID: 'acc',
  CLOUDFLARE_QUEUE_ID: 'q-uuid',
  CLOUDFLARE_API_TOKEN: 'cf-token',
  CONTROL_PLANE_URL: 'https://cic.example.com/',
  RUNNER_TOKEN: 'runner-token-0123456789',
}

describe('loadRunnerConfig', () => {
  it('applies defaults and derives the registration URL and a visibility timeout longer than a launch', () => {
    const config = loadRunnerConfig(ENV)
    expect(config).toMatchObject({
      CLOUDFLARE_API_BASE: 'https://api.cloudflare.com/client/v4',
      CONTROL_PLANE_URL: 'https://cic.example.com',
      NODE_REGISTER_URL: 'https://cic.example.com/nodes/register',
      SKY_BIN: 'sky',
      MAX_CONCURRENT_JOBS: 4,
    })
    expect(config.VISIBILITY_TIMEOUT_MS).toBeGreaterThan(config.LAUNCH_TIMEOUT_MS)
    expect(loadRunnerConfig({ ...ENV, LAUNCH_TIMEOUT_MS: '60000', VISIBILITY_TIMEOUT_MS: '900000' }).VISIBILITY_TIMEOUT_MS).toBe(900_000)
  })

  it('fails naming the variable that is missing or wrong', () => {
    expect(() => loadRunnerConfig({ ...ENV, RUNNER_TOKEN: undefined })).toThrow(/RUNNER_TOKEN/)
    expect(() => loadRunnerConfig({ ...ENV, CONTROL_PLANE_URL: 'not a url' })).toThrow(/CONTROL_PLANE_URL/)
    expect(() => loadRunnerConfig({ ...ENV, MAX_CONCURRENT_JOBS: '0' })).toThrow(/MAX_CONCURRENT_JOBS/)
  })
})
