// OpenAPI paths of the console (/dashboard): the browser app's files, the OIDC sign-in routes, and the JSON API
// under /dashboard/api (session cookie `cic_session`; writes need x-csrf-token). Schemas: schemas/console.ts.
import { z } from 'zod'
import { auditPageSchema, listOf, nodeOperationSchema, nodeSchema } from '../schemas/api-responses.ts'
import { auditQuerySchema } from '../schemas/audit-query.ts'
import {
  checkoutSchema,
  consoleCreateKeySchema,
  consoleCreateTenantSchema,
  consoleReplaySchema,
  consoleTenantSchema,
  consoleUsageQuerySchema,
  consoleUsageSchema,
  createdInviteSchema,
  createdKeySchema,
  createInviteSchema,
  deletedSchema,
  keyListSchema,
  loginQuerySchema,
  meSchema,
  membersSchema,
  okSchema,
  overviewSchema,
  redirectUrlSchema,
  revokedKeySchema,
  tenantDetailSchema,
  tenantListSchema,
} from '../schemas/console.ts'
import { fleetDesiredSchema } from '../schemas/fleet.ts'
import { launchNodeSchema } from '../schemas/node-ops.ts'
import { putPriceSchema } from '../schemas/prices.ts'
import { operation, type OperationSpec } from './operations.ts'
import { modelPricesSchema, priceVersionSchema } from './paths-billing.ts'
import { fleetPutResultSchema, fleetViewSchema } from './paths-fleet.ts'

const TAG = 'Console'
const READ_ERRORS = [400, 401, 403, 404, 500, 503]
const WRITE_ERRORS = [400, 401, 403, 404, 409, 413, 500, 502, 503]
type Spec = Omit<OperationSpec, 'security' | 'errors' | 'tag'> & { errors?: number[] }
const read = (spec: Spec) => ({ tag: TAG, security: 'ConsoleSession' as const, errors: READ_ERRORS, ...spec })
const write = (spec: Spec) => ({
  tag: TAG,
  security: 'ConsoleSession' as const,
  errors: WRITE_ERRORS,
  ...spec,
  description: `${spec.description ? `${spec.description} ` : ''}Needs the x-csrf-token header (from GET /dashboard/api/me) and a same-origin Origin.`,
})
const redirect = (description: string) => ({ 302: { description } })
const page = (id: string, summary: string) =>
  operation(id, {
    summary,
    tag: TAG,
    security: null,
    ok: { 200: { description: summary, content: { 'text/html': { schema: { type: 'string' } } } } },
    errors: [404],
  })

const TENANT = { name: 'tenantId', description: 'Tenant id (ten_…)' }
const FLEET_MODEL = { name: 'model', description: 'Model id, URL-encoded (Qwen%2FQwen2.5-7B-Instruct)' }
const object = (description: string) => z.looseObject({}).describe(description)
const deadLetterQuery = z.strictObject({
  kind: z.enum(['usage', 'node_ops']),
  status: z.enum(['pending', 'replayed', 'discarded']).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
})
const meterPushQuery = z.strictObject({
  tenant_id: z.string().optional(),
  status: z.enum(['pending', 'sent', 'failed', 'rejected']).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
})

export const consolePaths = {
  '/dashboard': { get: page('consoleApp', 'The console (single-page app shell, public/dashboard/index.html)') },
  '/dashboard/*': { get: page('consoleAppFiles', "The console's files; any other path is a client-side route and gets the app shell") },
  '/dashboard/login': {
    get: operation('consoleLogin', {
      summary: 'Start signing in: 302 to the OpenID Connect issuer (code + PKCE + state + nonce)',
      tag: TAG,
      security: null,
      query: loginQuerySchema,
      ok: redirect('To the issuer; sets the short-lived cic_login cookie that binds the attempt to this browser'),
      errors: [500, 503],
    }),
  },
  '/dashboard/auth/callback': {
    get: operation('consoleAuthCallback', {
      summary: 'The issuer sends the browser back here: the sign-in is verified and a session started',
      tag: TAG,
      security: null,
      ok: redirect('To return_to, with the cic_session cookie (HttpOnly, SameSite=Lax, Secure outside local dev)'),
      errors: [400, 401, 500, 503],
    }),
  },
  '/dashboard/logout': {
    post: operation(
      'consoleLogout',
      write({ summary: 'Sign out (the session is deleted on the server)', ok: { 200: { schema: okSchema, description: 'Signed out' } } }),
    ),
  },
  '/dashboard/invites/{token}': {
    get: operation('consoleAcceptInvite', {
      summary: 'Accept an invite as the signed-in user (signed out: 302 to sign-in, back here after)',
      tag: TAG,
      security: null,
      params: [{ name: 'token', description: "The invite link's token" }],
      ok: redirect("To the tenant's page once accepted, or to /dashboard/login"),
      errors: [403, 404, 409, 500],
    }),
  },
  '/dashboard/api/me': {
    get: operation('consoleMe', read({ summary: 'The signed-in user, their roles and the CSRF token', ok: { 200: { schema: meSchema, description: 'Me' } } })),
  },
  '/dashboard/api/tenants': {
    get: operation(
      'consoleTenants',
      read({ summary: 'Tenants: all for an operator, else the user’s', ok: { 200: { schema: tenantListSchema, description: 'Tenants' } } }),
    ),
    post: operation(
      'consoleCreateTenant',
      write({
        summary: 'Create a tenant (operator)',
        body: consoleCreateTenantSchema,
        ok: { 201: { schema: consoleTenantSchema, description: 'The tenant' } },
      }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}': {
    get: operation(
      'consoleTenant',
      read({
        summary: 'A tenant: plan, limits in force, current use, billing',
        params: [TENANT],
        ok: { 200: { schema: tenantDetailSchema, description: 'The tenant' } },
      }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}/usage': {
    get: operation(
      'consoleUsage',
      read({
        summary: 'Usage by hour or local day, optionally by model or key',
        params: [TENANT],
        query: consoleUsageQuerySchema,
        ok: { 200: { schema: consoleUsageSchema, description: 'Totals and series' } },
      }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}/usage.csv': {
    get: operation(
      'consoleUsageCsv',
      read({
        summary: 'The same usage as CSV',
        params: [TENANT],
        query: consoleUsageQuerySchema,
        ok: {
          200: {
            description: 'bucket_start,group,requests,prompt_tokens,completion_tokens,total_tokens',
            content: { 'text/csv': { schema: { type: 'string' } } },
          },
        },
      }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}/keys': {
    get: operation(
      'consoleKeys',
      read({ summary: "The tenant's keys (prefixes only)", params: [TENANT], ok: { 200: { schema: keyListSchema, description: 'Keys' } } }),
    ),
    post: operation(
      'consoleCreateKey',
      write({
        summary: 'Create a key (any member); the secret is in this answer only',
        params: [TENANT],
        body: consoleCreateKeySchema,
        ok: { 201: { schema: createdKeySchema, description: 'The key' } },
      }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}/keys/{keyId}': {
    delete: operation(
      'consoleRevokeKey',
      write({
        summary: 'Revoke a key (admin/operator: any; member: their own)',
        params: [TENANT, { name: 'keyId', description: 'Key id' }],
        ok: { 200: { schema: revokedKeySchema, description: 'Revoked' } },
      }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}/members': {
    get: operation(
      'consoleMembers',
      read({ summary: 'Members and pending invites', params: [TENANT], ok: { 200: { schema: membersSchema, description: 'Members' } } }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}/members/{userId}': {
    delete: operation(
      'consoleRemoveMember',
      write({
        summary: 'Remove a member (admin/operator); their sessions end',
        params: [TENANT, { name: 'userId', description: 'User id' }],
        ok: { 200: { schema: deletedSchema, description: 'Removed' } },
      }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}/invites': {
    post: operation(
      'consoleInvite',
      write({
        summary: 'Invite an email address (admin/operator); the link is in this answer only',
        params: [TENANT],
        body: createInviteSchema,
        ok: { 201: { schema: createdInviteSchema, description: 'The invite' } },
      }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}/invites/{inviteId}': {
    delete: operation(
      'consoleDeleteInvite',
      write({
        summary: 'Withdraw a pending invite (admin/operator)',
        params: [TENANT, { name: 'inviteId', description: 'Invite id' }],
        ok: { 200: { schema: deletedSchema, description: 'Deleted' } },
      }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}/billing/checkout': {
    post: operation(
      'consoleCheckout',
      write({
        summary: 'A Stripe Checkout Session to subscribe to a plan (admin/operator)',
        params: [TENANT],
        body: checkoutSchema,
        ok: { 200: { schema: redirectUrlSchema, description: 'Send the browser to url' } },
      }),
    ),
  },
  '/dashboard/api/tenants/{tenantId}/billing/portal': {
    post: operation(
      'consolePortal',
      write({
        summary: 'A Stripe Billing Portal session (admin/operator)',
        params: [TENANT],
        ok: { 200: { schema: redirectUrlSchema, description: 'Send the browser to url' } },
      }),
    ),
  },
  '/dashboard/api/overview': {
    get: operation('consoleOverview', read({ summary: 'Operator overview', ok: { 200: { schema: overviewSchema, description: 'Overview' } } })),
  },
  '/dashboard/api/nodes': {
    get: operation('consoleNodes', read({ summary: 'The fleet (operator)', ok: { 200: { schema: listOf(nodeSchema), description: 'Nodes' } } })),
  },
  '/dashboard/api/nodes/launch': {
    post: operation(
      'consoleLaunchNode',
      write({ summary: 'Launch a node (operator)', body: launchNodeSchema, ok: { 202: { schema: nodeOperationSchema, description: 'Accepted' } } }),
    ),
  },
  '/dashboard/api/nodes/{id}/drain': {
    post: operation(
      'consoleDrainNode',
      write({
        summary: 'Drain a node (operator)',
        params: [{ name: 'id', description: 'Node id' }],
        ok: { 200: { schema: nodeSchema, description: 'The node' } },
      }),
    ),
  },
  '/dashboard/api/nodes/{id}/resume': {
    post: operation(
      'consoleResumeNode',
      write({
        summary: 'Resume a node (operator)',
        params: [{ name: 'id', description: 'Node id' }],
        ok: { 200: { schema: nodeSchema, description: 'The node' } },
      }),
    ),
  },
  '/dashboard/api/nodes/{name}/terminate': {
    post: operation(
      'consoleTerminateNode',
      write({
        summary: 'Terminate a launched node (operator)',
        params: [{ name: 'name', description: "The node's cluster name" }],
        ok: { 202: { schema: nodeOperationSchema, description: 'Accepted' } },
      }),
    ),
  },
  '/dashboard/api/nodes/{name}/relaunch': {
    post: operation(
      'consoleRelaunchNode',
      write({
        summary: 'Relaunch a node (operator)',
        params: [{ name: 'name', description: "The node's cluster name" }],
        ok: { 202: { schema: nodeOperationSchema, description: 'Accepted' } },
      }),
    ),
  },
  '/dashboard/api/audit': {
    get: operation(
      'consoleAudit',
      read({ summary: 'The audit log (operator)', query: auditQuerySchema, ok: { 200: { schema: auditPageSchema, description: 'Newest first' } } }),
    ),
  },
  '/dashboard/api/dead-letters': {
    get: operation(
      'consoleDeadLetters',
      read({
        summary: 'Usage or node-ops dead letters (operator)',
        query: deadLetterQuery,
        ok: { 200: { schema: object('as GET /admin/…/dead-letters'), description: 'List' } },
      }),
    ),
  },
  '/dashboard/api/dead-letters/replay': {
    post: operation(
      'consoleReplayDeadLetters',
      write({
        summary: 'Replay dead letters (operator)',
        body: consoleReplaySchema,
        ok: { 200: { schema: object('the replay report'), description: 'Report' } },
      }),
    ),
  },
  '/dashboard/api/meter-pushes': {
    get: operation(
      'consoleMeterPushes',
      read({
        summary: 'Meter pushes to Stripe (operator)',
        query: meterPushQuery,
        ok: { 200: { schema: object('as GET /admin/billing/meter-pushes'), description: 'List' } },
      }),
    ),
  },
  '/dashboard/api/fleets': {
    get: operation(
      'consoleFleets',
      read({
        summary: 'Every fleet, desired against actual (operator; as GET /admin/fleet)',
        ok: { 200: { schema: z.strictObject({ object: z.literal('list'), data: z.array(fleetViewSchema) }), description: 'Every fleet' } },
      }),
    ),
  },
  '/dashboard/api/fleets/{model}': {
    get: operation(
      'consoleFleet',
      read({
        summary: 'A fleet, desired against actual (operator)',
        params: [FLEET_MODEL],
        ok: { 200: { schema: fleetViewSchema, description: 'The fleet' } },
      }),
    ),
    put: operation(
      'consolePutFleet',
      write({
        summary: "Set a model's fleet (operator; as PUT /admin/fleet/{model}, audited as user:<email>)",
        params: [FLEET_MODEL],
        body: fleetDesiredSchema,
        ok: {
          200: { schema: fleetPutResultSchema, description: 'The fleet was replaced' },
          201: { schema: fleetPutResultSchema, description: 'The fleet was created' },
        },
      }),
    ),
    delete: operation(
      'consoleDeleteFleet',
      write({
        summary: 'Stop managing a fleet (operator; its nodes keep running)',
        params: [FLEET_MODEL],
        ok: { 200: { schema: z.strictObject({ object: z.literal('fleet.deleted'), model: z.string(), deleted: z.literal(true) }), description: 'Deleted' } },
      }),
    ),
  },
  '/dashboard/api/prices': {
    get: operation(
      'consolePrices',
      read({
        summary: "Every model's price book: the version in force and every version (operator)",
        ok: { 200: { schema: z.strictObject({ object: z.literal('list'), data: z.array(modelPricesSchema) }), description: 'Models in order' } },
      }),
    ),
  },
  '/dashboard/api/prices/{model}': {
    put: operation(
      'consolePutPrice',
      write({
        summary: 'Set a model price version (operator; as PUT /admin/models/{model}/price, audited as user:<email>)',
        params: [FLEET_MODEL],
        body: putPriceSchema,
        ok: { 200: { schema: priceVersionSchema, description: 'The version written' } },
      }),
    ),
  },
}
