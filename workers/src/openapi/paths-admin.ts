// OpenAPI paths of the operator APIs: /admin (ADMIN_TOKEN), /runner (RUNNER_TOKEN) and /nodes/register (a
// node's one-time token). Request schemas are the ones the routes parse with.
import { z } from 'zod'
import { meterPushQuerySchema } from '../routes/admin/billing.ts'
import { deadLetterQuerySchema as nodeDeadLetterQuerySchema, discardSchema, replaySchema as nodeReplaySchema } from '../routes/admin/node-dead-letters.ts'
import {
  deadLetterQuerySchema as usageDeadLetterQuerySchema,
  discardSchema as usageDiscardSchema,
  replaySchema as usageReplaySchema,
} from '../routes/admin/usage.ts'
import { createKeySchema, createTenantSchema, registerNodeSchema, updateNodeSchema, updateTenantSchema, usageQuerySchema } from '../schemas/admin.ts'
import {
  apiKeySchema,
  auditPageSchema,
  listOf,
  nodeDeletedSchema,
  nodeOperationSchema,
  nodeRegistrationResultSchema,
  nodeSchema,
  tenantSchema,
  usageSummarySchema,
} from '../schemas/api-responses.ts'
import { auditQuerySchema } from '../schemas/audit-query.ts'
import {
  launchNodeSchema,
  nodeCredentialsRequestSchema,
  nodeCredentialsSchema,
  nodeRegistrationSchema,
  runnerStatusReportSchema,
  runnerStatusResultSchema,
} from '../schemas/node-ops.ts'
import { adminUsageQuerySchema, reconcileQuerySchema } from '../schemas/usage-query.ts'
import { operation, type OperationSpec } from './operations.ts'

const ADMIN_ERRORS = [400, 401, 404, 409, 413, 500, 503]
const admin = (spec: Omit<OperationSpec, 'security' | 'errors'> & { errors?: number[] }) => ({ security: 'AdminToken' as const, errors: ADMIN_ERRORS, ...spec })
/** Answers this document does not spell out field by field yet (admission state, reports, dead letters). */
const object = (description: string) => z.looseObject({}).describe(description)

const TENANT_ID = { name: 'id', description: 'Tenant id (tnt_…)' }
const NODE_ID = { name: 'id', description: 'Node id' }
const CLUSTER = { name: 'cluster_name', description: "The node's name (its SkyPilot cluster name)" }
const RUNNER_CLUSTER = { name: 'cluster', description: 'SkyPilot cluster name' }

export const adminPaths = {
  '/admin/tenants': {
    post: operation(
      'createTenant',
      admin({ summary: 'Create a tenant', tag: 'Tenants', body: createTenantSchema, ok: { 201: { schema: tenantSchema, description: 'The tenant' } } }),
    ),
    get: operation(
      'listTenants',
      admin({ summary: 'List tenants', tag: 'Tenants', ok: { 200: { schema: listOf(tenantSchema), description: 'Every tenant' } } }),
    ),
  },
  '/admin/tenants/{id}': {
    get: operation(
      'getTenant',
      admin({ summary: 'Show a tenant', tag: 'Tenants', params: [TENANT_ID], ok: { 200: { schema: tenantSchema, description: 'The tenant' } } }),
    ),
    patch: operation(
      'updateTenant',
      admin({
        summary: 'Update a tenant (name, plan, status, limits; null removes a limit override)',
        tag: 'Tenants',
        params: [TENANT_ID],
        body: updateTenantSchema,
        ok: { 200: { schema: tenantSchema, description: 'The tenant after the change' } },
      }),
    ),
  },
  '/admin/tenants/{id}/keys': {
    post: operation(
      'createKey',
      admin({
        summary: 'Issue an API key (the secret is in this answer only)',
        tag: 'Keys',
        params: [TENANT_ID],
        body: createKeySchema,
        ok: { 201: { schema: apiKeySchema.required({ key: true }), description: 'The key, with its secret' } },
      }),
    ),
    get: operation(
      'listKeys',
      admin({
        summary: "List a tenant's keys (never their secrets)",
        tag: 'Keys',
        params: [TENANT_ID],
        ok: { 200: { schema: listOf(apiKeySchema.omit({ key: true })), description: 'The keys' } },
      }),
    ),
  },
  '/admin/tenants/{id}/admission': {
    get: operation(
      'getTenantAdmission',
      admin({
        summary: "A tenant's live admission state (limits, windows, in flight)",
        tag: 'Tenants',
        params: [TENANT_ID],
        ok: { 200: { schema: object("tenant.admission: the TenantGate object's state"), description: 'The state' } },
      }),
    ),
  },
  '/admin/tenants/{id}/usage': {
    get: operation(
      'getTenantUsage',
      admin({
        summary: "A tenant's usage",
        tag: 'Usage',
        params: [TENANT_ID],
        query: usageQuerySchema,
        ok: { 200: { schema: object('tenant usage report'), description: 'Usage' } },
      }),
    ),
  },
  '/admin/keys/{id}': {
    delete: operation(
      'revokeKey',
      admin({
        summary: 'Revoke an API key (effective on the next request)',
        tag: 'Keys',
        params: [{ name: 'id', description: 'Key id' }],
        ok: { 200: { schema: apiKeySchema.omit({ key: true }), description: 'The revoked key' } },
      }),
    ),
  },
  '/admin/nodes': {
    post: operation(
      'registerNode',
      admin({
        summary: 'Register a bring-your-own node',
        tag: 'Nodes',
        body: registerNodeSchema,
        ok: { 201: { schema: nodeSchema, description: 'The node' } },
      }),
    ),
    get: operation(
      'listNodes',
      admin({ summary: 'List nodes with breaker, health and load', tag: 'Nodes', ok: { 200: { schema: listOf(nodeSchema), description: 'The nodes' } } }),
    ),
  },
  '/admin/nodes/{id}': {
    get: operation('getNode', admin({ summary: 'Show a node', tag: 'Nodes', params: [NODE_ID], ok: { 200: { schema: nodeSchema, description: 'The node' } } })),
    patch: operation(
      'updateNode',
      admin({
        summary: "Tune a node's circuit breaker",
        tag: 'Nodes',
        params: [NODE_ID],
        body: updateNodeSchema,
        ok: { 200: { schema: nodeSchema, description: 'The node' } },
      }),
    ),
    delete: operation(
      'removeNode',
      admin({
        summary: 'Remove a registered node (drains first; 202 while draining)',
        tag: 'Nodes',
        params: [NODE_ID],
        ok: { 200: { schema: nodeDeletedSchema, description: 'Removed' }, 202: { schema: nodeDeletedSchema, description: 'Draining; removed once idle' } },
      }),
    ),
  },
  '/admin/nodes/{id}/drain': {
    post: operation(
      'drainNode',
      admin({ summary: 'Drain a node (no new requests)', tag: 'Nodes', params: [NODE_ID], ok: { 200: { schema: nodeSchema, description: 'The node' } } }),
    ),
  },
  '/admin/nodes/{id}/resume': {
    post: operation(
      'resumeNode',
      admin({ summary: 'Resume a drained node', tag: 'Nodes', params: [NODE_ID], ok: { 200: { schema: nodeSchema, description: 'The node' } } }),
    ),
  },
  '/admin/nodes/launch': {
    post: operation(
      'launchNode',
      admin({
        summary: 'Launch a GPU node through orchestrator-runner (SkyPilot)',
        tag: 'Node launches',
        body: launchNodeSchema,
        ok: { 202: { schema: nodeOperationSchema, description: 'Accepted: the launch is queued' } },
      }),
    ),
  },
  '/admin/nodes/{cluster_name}/terminate': {
    post: operation(
      'terminateNode',
      admin({
        summary: 'Terminate a launched node (drain, then sky down)',
        tag: 'Node launches',
        params: [CLUSTER],
        ok: { 202: { schema: nodeOperationSchema, description: 'Accepted' } },
      }),
    ),
  },
  '/admin/nodes/{cluster_name}/relaunch': {
    post: operation(
      'relaunchNode',
      admin({
        summary: 'Relaunch a failed or terminated node',
        tag: 'Node launches',
        params: [CLUSTER],
        ok: { 202: { schema: nodeOperationSchema, description: 'Accepted' } },
      }),
    ),
  },
  '/admin/nodes/{cluster_name}/status': {
    get: operation(
      'getNodeLaunchStatus',
      admin({
        summary: 'Where a node is in its lifecycle',
        tag: 'Node launches',
        params: [CLUSTER],
        ok: { 200: { schema: object('node status view'), description: 'The status' } },
      }),
    ),
  },
  '/admin/nodes/dead-letters': {
    get: operation(
      'listNodeOpDeadLetters',
      admin({
        summary: 'Dead-lettered node-ops jobs',
        tag: 'Node launches',
        query: nodeDeadLetterQuerySchema,
        ok: { 200: { schema: listOf(object('dead letter')), description: 'The jobs' } },
      }),
    ),
  },
  '/admin/nodes/dead-letters/replay': {
    post: operation(
      'replayNodeOpDeadLetters',
      admin({
        summary: 'Replay dead-lettered node-ops jobs',
        tag: 'Node launches',
        body: nodeReplaySchema,
        ok: { 200: { schema: object('replay result'), description: 'What was replayed' } },
      }),
    ),
  },
  '/admin/nodes/dead-letters/discard': {
    post: operation(
      'discardNodeOpDeadLetters',
      admin({
        summary: 'Discard dead-lettered node-ops jobs',
        tag: 'Node launches',
        body: discardSchema,
        ok: { 200: { schema: object('discard result'), description: 'What was discarded' } },
      }),
    ),
  },
  '/admin/usage': {
    get: operation(
      'getUsage',
      admin({
        summary: 'Usage across tenants',
        tag: 'Usage',
        query: adminUsageQuerySchema,
        ok: { 200: { schema: usageSummarySchema, description: 'Totals and one row per group' } },
      }),
    ),
  },
  '/admin/usage/reconcile': {
    get: operation(
      'reconcileUsage',
      admin({
        summary: "The ledger against the nodes' own token counters",
        tag: 'Usage',
        query: reconcileQuerySchema,
        ok: { 200: { schema: object('reconciliation report'), description: 'The report' } },
      }),
    ),
  },
  '/admin/usage/dead-letters': {
    get: operation(
      'listUsageDeadLetters',
      admin({
        summary: 'Dead-lettered usage events',
        tag: 'Usage',
        query: usageDeadLetterQuerySchema,
        ok: { 200: { schema: listOf(object('dead letter')), description: 'The events' } },
      }),
    ),
  },
  '/admin/usage/dead-letters/replay': {
    post: operation(
      'replayUsageDeadLetters',
      admin({
        summary: 'Replay dead-lettered usage events into the ledger',
        tag: 'Usage',
        body: usageReplaySchema,
        ok: { 200: { schema: object('replay result'), description: 'What was replayed' } },
      }),
    ),
  },
  '/admin/usage/dead-letters/discard': {
    post: operation(
      'discardUsageDeadLetters',
      admin({
        summary: 'Mark pending usage dead letters discarded (never counted; audited)',
        tag: 'Usage',
        body: usageDiscardSchema,
        ok: { 200: { schema: object('discard result'), description: 'What was discarded' } },
      }),
    ),
  },
  '/admin/billing/meter-pushes': {
    get: operation(
      'listMeterPushes',
      admin({
        summary: 'Usage pushed to Stripe Billing Meters (and pending or failing)',
        tag: 'Billing',
        query: meterPushQuerySchema,
        ok: { 200: { schema: listOf(object('meter push')), description: 'The pushes' } },
      }),
    ),
  },
  '/admin/audit': {
    get: operation(
      'listAudit',
      admin({
        summary: 'The audit trail, newest first',
        tag: 'Audit',
        query: auditQuerySchema,
        ok: { 200: { schema: auditPageSchema, description: 'Entries and the next cursor' } },
      }),
    ),
  },
  '/runner/nodes/{cluster}/status': {
    post: operation('reportNodeStatus', {
      summary: "orchestrator-runner reports a node's status",
      tag: 'Runner',
      security: 'RunnerToken',
      params: [RUNNER_CLUSTER],
      body: runnerStatusReportSchema,
      ok: { 200: { schema: runnerStatusResultSchema, description: "The node's status after the report" } },
      errors: [400, 401, 404, 409, 413, 500, 503],
    }),
  },
  '/runner/nodes/{cluster}/credentials': {
    post: operation('mintNodeCredentials', {
      summary: 'Fresh secrets for one launch attempt (never cached), bound to the endpoint the runner created for it',
      tag: 'Runner',
      security: 'RunnerToken',
      params: [RUNNER_CLUSTER],
      body: nodeCredentialsRequestSchema,
      ok: { 200: { schema: nodeCredentialsSchema, description: 'The credentials, returned once' } },
      errors: [400, 401, 404, 409, 500, 503],
    }),
  },
  '/nodes/register': {
    post: operation('registerLaunchedNode', {
      summary: 'A launched node announces its endpoint and models',
      tag: 'Runner',
      security: 'NodeRegistrationToken',
      body: nodeRegistrationSchema,
      ok: { 200: { schema: nodeRegistrationResultSchema, description: 'Registered (warming, or ready once its first health check passed)' } },
      errors: [400, 401, 403, 409, 413, 500, 503],
    }),
  },
}
