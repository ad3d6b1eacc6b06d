// Builds the Hono app: middleware order, route mounting, and the one error translator.
import { Hono } from 'hono'
import type { AppEnv } from './env.ts'
import { ApiError, onError } from './errors.ts'
import { adminAuth } from './middleware/admin-auth.ts'
import { apiKeyAuth } from './middleware/api-key-auth.ts'
import { config } from './middleware/config.ts'
import { requestId } from './middleware/request-id.ts'
import { adminBilling } from './routes/admin/billing.ts'
import { adminKeys } from './routes/admin/keys.ts'
import { adminNodes } from './routes/admin/nodes.ts'
import { adminTenants } from './routes/admin/tenants.ts'
import { adminUsage } from './routes/admin/usage.ts'
import { inference } from './routes/v1/inference.ts'
import { models } from './routes/v1/models.ts'
import { usage } from './routes/v1/usage.ts'
import { stripeWebhooks } from './routes/webhooks/stripe.ts'

export function createApp() {
  const app = new Hono<AppEnv>()
  app.use(requestId(), config())
  app.get('/health', (c) => c.json({ status: 'ok' }))
  app.route('/v1', new Hono<AppEnv>().use(apiKeyAuth()).route('/', inference).route('/', models).route('/', usage))
  app.route('/api/webhooks', stripeWebhooks) // Stripe-Signature instead of an API key or admin token
  app.route('/admin', new Hono<AppEnv>().use(adminAuth()).route('/', adminTenants).route('/', adminKeys).route('/', adminNodes).route('/', adminUsage).route('/', adminBilling))
  app.notFound((c) => onError(new ApiError('not_found', 'Unknown route.', { code: 'unknown_route' }), c))
  app.onError(onError)
  return app
}
