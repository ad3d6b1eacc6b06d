// CLI for the Stripe stand-in (`node scripts/stripe-standin/main.ts --port 12111`): prints its URL (use it as
// STRIPE_API_BASE in .dev.vars) and shuts down cleanly on SIGINT/SIGTERM.
import { parseArgs } from 'node:util'
import { startStripeStandin } from './server.ts'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '12111' },
    host: { type: 'string', default: '127.0.0.1' },
    'secret-key': { type: 'string' },
    // Checkout/portal webhooks: the gateway's route and its STRIPE_WEBHOOK_SECRET.
    'webhook-url': { type: 'string' },
    'webhook-secret': { type: 'string', default: process.env.STRIPE_WEBHOOK_SECRET },
  },
})
const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`stripe-standin: bad --port ${values.port}`)
  process.exit(2)
}
const standin = await startStripeStandin({
  port,
  host: values.host,
  ...(values['secret-key'] ? { secretKey: values['secret-key'] } : {}),
  checkout: { webhookUrl: values['webhook-url'], webhookSecret: values['webhook-secret'] },
})
console.log(`stripe-standin listening on ${standin.url} (set STRIPE_API_BASE=${standin.url})`)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void standin.close().then(() => process.exit(0)))
}
