import { describe, expect, it } from 'vitest'
import { loadRunnerConfig } from './config.ts'

const ENV = {
  CLOUDFLARE_ACCOUNT_ID: 'acc',
  CLOUDFLARE_QUEUE_ID: 'q-uuid',
  CLOUDFLARE_API_TOKEN: 'cf-token',
  CONTROL_PLANE_URL: 'https://cic.example.com/',
  RUNNER_TOKEN: 'runner-token-0123456789',
  CLOUDFLARE_NODE_PATH_API_TOKEN: 'cf-node-path-token',
  NODES_ZONE: 'Nodes.Example.com',
  NODES_ZONE_ID: 'zone-id',
  ACCESS_SERVICE_TOKEN_ID: 'service-token-id',
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
      NODES_ZONE: 'nodes.example.com',
      NODE_ENDPOINT_TEMPLATE: 'https://{hostname}',
      CLOUDFLARE_NODE_PATH_API_BASE: 'https://api.cloudflare.com/client/v4',
    })
    expect(config.VISIBILITY_TIMEOUT_MS).toBeGreaterThan(config.LAUNCH_TIMEOUT_MS)
    expect(loadRunnerConfig({ ...ENV, LAUNCH_TIMEOUT_MS: '60000', VISIBILITY_TIMEOUT_MS: '900000' }).VISIBILITY_TIMEOUT_MS).toBe(900_000)
  })

  it('fails naming the variable that is missing or wrong', () => {
    expect(() => loadRunnerConfig({ ...ENV, RUNNER_TOKEN: undefined })).toThrow(/RUNNER_TOKEN/)
    expect(() => loadRunnerConfig({ ...ENV, CONTROL_PLANE_URL: 'not a url' })).toThrow(/CONTROL_PLANE_URL/)
    expect(() => loadRunnerConfig({ ...ENV, MAX_CONCURRENT_JOBS: '0' })).toThrow(/MAX_CONCURRENT_JOBS/)
    // The node path is not optional: without it a launched node would have no way in.
    for (const name of ['CLOUDFLARE_NODE_PATH_API_TOKEN', 'NODES_ZONE', 'NODES_ZONE_ID', 'ACCESS_SERVICE_TOKEN_ID'])
      expect(() => loadRunnerConfig({ ...ENV, [name]: undefined })).toThrow(new RegExp(name))
    expect(() => loadRunnerConfig({ ...ENV, NODES_ZONE: 'https://nodes.example.com' })).toThrow(/NODES_ZONE/)
    expect(() => loadRunnerConfig({ ...ENV, NODE_ENDPOINT_TEMPLATE: 'https://fixed.example.com' })).toThrow(/NODE_ENDPOINT_TEMPLATE/)
  })
})
