// Test-only bindings and the values vitest's global setup provides to test files.
import 'vitest'

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: import('cloudflare:test').D1Migration[]
    }
  }
}

declare module 'vitest' {
  interface ProvidedContext {
    standins: Record<'healthy' | 'failing' | 'resetting' | 'midstream' | 'hanging' | 'slow' | 'ledger' | 'stalling', string>
    /** Reconfigurable stand-ins per test file (see start-standins.ts), each serving pool-1 … pool-12. */
    pools: Record<
      'routing' | 'breaker' | 'retries' | 'monitor' | 'admin' | 'launches' | 'bounded' | 'boundedUsage' | 'fleet' | 'longStream' | 'cachedInput',
      string[]
    >
  }
}
