// Builds the Hono app: middleware order, route mounting, and the one error translator.
import { Hono } from 'hono'
import type { AppEnv } from './env.ts'
import { ApiError, onError } from './errors.ts'
import { admissionLocation } from './middleware/admission-location.ts'
import { apiKeyAuth } from './middleware/api-key-auth.ts'
import { bearerAuth } from './middleware/bearer-auth.ts'
import { config } from './middleware/config.ts'
import { discardUnreadBody } from './middleware/discard-unread-body.ts'
import { observeRequest } from './middleware/observe-request.ts'
import { requestId } from './middleware/request-id.ts'
import { adminBilling } from './routes/admin/billing.ts'
import { adminPrices } from './routes/admin/prices.ts'
import { adminKeys } from './routes/admin/keys.ts'
import { adminNodeDeadLetters } from './routes/admin/node-dead-letters.ts'
import { adminNodeLaunches } from './routes/admin/node-launches.ts'
import { adminNodes } from './routes/admin/nodes.ts'
import { adminTenants } from './routes/admin/tenants.ts'
import { adminUsage } from './routes/admin/usage.ts'
import { adminAudit } from './routes/admin/audit.ts'
import { adminFleet } from './routes/admin/fleet.ts'
import { dashboard } from './routes/dashboard.ts'
import { localQueues } from './routes/local-queues.ts'
import { metrics } from './routes/metrics.ts'
import { nodePreemptionNotice } from './routes/nodes/preemption-notice.ts'
import { nodeRegistration } from './routes/nodes/register.ts'
import { openApi } from './routes/openapi.ts'
import { runnerNodes } from './routes/runner/nodes.ts'
import { inference } from './routes/v1/inference.ts'
import { models } from './routes/v1/models.ts'
import { usage } from './routes/v1/usage.ts'
import { stripeWebhooks } from './routes/webhooks/stripe.ts'

export function createApp() {
  const app = new Hono<AppEnv>()
  app.use(discardUnreadBody(), requestId(), config(), observeRequest())
  app.get('/health', (c) => c.json({ status: 'ok' }))
  app.route('/', metrics) // GET /metrics, behind METRICS_TOKEN
  app.route('/', dashboard) // /dashboard: the console (OIDC sign-in, session API, the app from static assets)
  app.route('/', openApi) // GET /openapi.json, GET /docs (+ /docs/scalar.js from the ASSETS binding)
  app.route('/v1', new Hono<AppEnv>().use(apiKeyAuth(), admissionLocation()).route('/', inference).route('/', models).route('/', usage))
  app.route('/api/webhooks', stripeWebhooks) // Stripe-Signature instead of an API key or admin token
  app.route(
    '/admin',
    new Hono<AppEnv>()
      .use(bearerAuth('ADMIN_TOKEN'))
      .route('/', adminTenants)
      .route('/', adminKeys)
      .route('/', adminNodeDeadLetters)
      .route('/', adminNodes)
      .route('/', adminNodeLaunches)
      .route('/', adminUsage)
      .route('/', adminBilling)
      .route('/', adminPrices)
      .route('/', adminAudit)
      .route('/', adminFleet),
  )
  app.route('/runner', new Hono<AppEnv>().use(bearerAuth('RUNNER_TOKEN')).route('/', runnerNodes))
  app.route('/nodes', nodeRegistration) // a launched node's one-time registration token
  app.route('/nodes', nodePreemptionNotice) // the same token: its cloud's preemption warning (fleets, issue 15)
  app.route('/local-queues', localQueues) // dev only: 404 unless LOCAL_QUEUE_SHIM=1 outside production
  app.notFound((c) => onError(new ApiError('not_found', 'Unknown route.', { code: 'unknown_route' }), c))
  app.onError(onError)
  return app
}
