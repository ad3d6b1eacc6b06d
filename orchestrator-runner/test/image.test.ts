// The runner's image and compose file say what the README promises (the image itself is built only in CI's
// runner-image job): a non-root user, tini as PID 1, gcloud for SkyPilot's GCP check, a health check on the
// runner's /healthz, a restart policy, and the CI job that builds it.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { describe, expect, it } from 'vitest'
import { loadRunnerConfig } from '../src/config.ts'

const root = path.resolve(import.meta.dirname, '../..')
const read = (file: string) => readFileSync(path.join(root, file), 'utf8')

describe('orchestrator-runner image', () => {
  const dockerfile = read('orchestrator-runner/Dockerfile')
  const lines = dockerfile.split('\n')

  it("runs as the non-root node user under tini, with gcloud installed from Google's apt repository", () => {
    const users = lines.filter((l) => l.startsWith('USER '))
    expect(users.at(-1)).toBe('USER node')
    expect(dockerfile).toMatch(/apt-get install[^\n]*\btini\b/)
    expect(lines.find((l) => l.startsWith('ENTRYPOINT'))).toBe('ENTRYPOINT ["/usr/bin/tini", "--"]')
    expect(dockerfile).toMatch(/install -y --no-install-recommends google-cloud-cli/)
    expect(dockerfile).toMatch(/skypilot\[aws,gcp,azure,lambda,oci\]/) // the providers the launch API accepts
  })

  it("is run by compose with a restart policy and a health check on /healthz at the runner's port", () => {
    const compose = parse(read('orchestrator-runner/compose.yaml')) as {
      services: Record<string, { restart: string; healthcheck: { test: string[] }; environment: Record<string, string> }>
    }
    const runner = compose.services.runner!
    expect(runner.restart).toBe('unless-stopped')
    const port = runner.environment.HEALTH_PORT
    expect(runner.healthcheck.test.join(' ')).toContain(`127.0.0.1:${port}/healthz`)
    const base = {
      CLOUDFLARE_ACCOUNT_ID: 'a',
      CLOUDFLARE_QUEUE_ID: 'q',
      CLOUDFLARE_API_TOKEN: 't',
      CONTROL_PLANE_URL: 'http://x',
      RUNNER_TOKEN: 'r'.repeat(16),
      CLOUDFLARE_NODE_PATH_API_TOKEN: 'n',
      NODES_ZONE: 'nodes.example.com',
      NODES_ZONE_ID: 'z',
      ACCESS_SERVICE_TOKEN_ID: 's',
    }
    expect(String(loadRunnerConfig(base).HEALTH_PORT)).toBe(port) // the default the Dockerfile's HEALTHCHECK uses
  })

  it('is built by the CI workflow', () => {
    const ci = parse(read('.github/workflows/ci.yml')) as { jobs: Record<string, { steps: { run?: string }[] }> }
    const builds = Object.values(ci.jobs)
      .flatMap((j) => j.steps.map((s) => s.run ?? ''))
      .filter((r) => r.includes('docker build -f orchestrator-runner/Dockerfile'))
    expect(builds).toHaveLength(1)
  })
})
