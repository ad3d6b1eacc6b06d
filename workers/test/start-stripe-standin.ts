// Vitest global setup (runs in Node): starts the Stripe stand-in over real TCP on a random port. Tests point the
// Worker's real stripe client at it (STRIPE_API_BASE) and read what it received through its control API.
import type { TestProject } from 'vitest/node'
import { startStripeStandin } from '../../scripts/stripe-standin/server.ts'

declare module 'vitest' {
  interface ProvidedContext {
    stripeStandin: string
  }
}

export default async function setup(project: TestProject) {
  const standin = await startStripeStandin({ port: 0, secretKey: 'sk_test_cic_vitest_0123456789' })
  project.provide('stripeStandin', standin.url)
  return () => standin.close()
}
