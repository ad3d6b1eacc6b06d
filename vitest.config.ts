// Two test projects: `workers` runs inside workerd with real bindings (D1, Durable Objects, Queues);
// `node` runs Node-side code (the vLLM stand-in, orchestrator-runner, end-to-end tests against `npm run dev`'s stack).
import path from 'node:path'
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, 'd1-migrations'))
  return {
    test: {
      // Passing tests' output (the Worker's JSON access log, one line a request) is dropped; a failing test's is shown.
      silent: 'passed-only' as const,
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: './wrangler.toml' },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  ADMIN_TOKEN: 'test-admin-token-0123456789',
                  SECRETS_KEY: 'test-secrets-key-0123456789',
                  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '1500',
                  UPSTREAM_IDLE_TIMEOUT_MS: '1500',
                  UPSTREAM_REQUEST_TIMEOUT_MS: '1500', // a non-streamed answer's total time (a hung node's 504 in 1.5 s)
                  STRIPE_SECRET_KEY: 'sk_test_cic_vitest_0123456789',
                  STRIPE_WEBHOOK_SECRET: 'whsec_cic_vitest_0123456789abcdef',
                  UPSTREAM_CONNECT_TIMEOUT_MS: '1500',
                  UPSTREAM_RETRY_BACKOFF_MS: '10', // 10, 20, 40 ms: the schedule's shape without slow tests
                  UPSTREAM_RETRY_DEADLINE_MS: '2500',
                  NODE_HEALTH_INTERVAL_MS: '3600000', // tests drive health checks with runDurableObjectAlarm
                  NODE_HEALTH_TIMEOUT_MS: '1000',
                  NODE_DRAIN_MIN_MS: '0',
                  // Node launches: runner secret, the local pull-queue shim (fed by the node-ops consumer below).
                  RUNNER_TOKEN: 'test-runner-token-0123456789',
                  LOCAL_QUEUE_SHIM: '1',
                  ENVIRONMENT: 'test',
                  // Admission slices: every location↔home call pays 20 ms (only requests with x-cic-location use them).
                  ADMISSION_SIMULATED_RTT_MS: '20',
                  // Observability: /metrics token; isolates flush metric deltas after every request (exact scrapes).
                  METRICS_TOKEN: 'test-metrics-token-0123456789',
                  METRICS_FLUSH_INTERVAL_MS: '0',
                  // Production's D1 / Durable Object SQL / subrequest limits, enforced on every test (platform/guard.ts).
                  PLATFORM_LIMITS_GUARD: '1',
                  // Console sign-in (OIDC_ISSUER, the stand-in's random port, is set per test: workers/test/console/).
                  OIDC_CLIENT_ID: 'cic-test-console',
                  OIDC_CLIENT_SECRET: 'test-oidc-client-secret-0123456789',
                  OPERATOR_EMAILS: 'ops@cic.test',
                },
                queueConsumers: { 'usage-events': { maxBatchTimeout: 0.05 }, 'node-ops': { maxBatchTimeout: 0.05 } },
              },
            }),
          ],
          test: {
            name: 'workers',
            include: ['workers/**/*.test.ts', 'durable-objects/**/*.test.ts'],
            setupFiles: ['./workers/test/platform-guard.ts', './workers/test/apply-migrations.ts'],
            globalSetup: ['./workers/test/start-standins.ts', './workers/test/start-stripe-standin.ts', './workers/test/start-console-standins.ts'],
          },
        },
        {
          test: {
            name: 'node',
            environment: 'node',
            include: ['scripts/**/*.test.ts', 'orchestrator-runner/**/*.test.ts', 'test/**/*.test.ts'],
            testTimeout: 60_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  }
})
