// D1 tables of the control plane (drizzle). SQL migrations in d1-migrations/ are generated from this file.
import { sql } from 'drizzle-orm'
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import type { FleetPlacement } from '../schemas/fleet.ts'
import { NODE_ENGINES, type NodeLaunchSpec } from '../schemas/node-ops.ts'

const createdAt = () => integer('created_at', { mode: 'number' }).notNull().default(sql`(unixepoch('subsec') * 1000)`)

/** A customer. `status` and `limits` are mirrored into the tenant's admission Durable Object, which is authoritative on the request path. */
export const tenants = sqliteTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  status: text('status', { enum: ['active', 'suspended'] })
    .notNull()
    .default('active'),
  statusReason: text('status_reason'),
  plan: text('plan').notNull().default('default'),
  /** JSON TenantLimits; absent fields mean the plan's default. */
  limits: text('limits', { mode: 'json' }).$type<Record<string, number>>().notNull().default({}),
  stripeCustomerId: text('stripe_customer_id').unique(),
  createdAt: createdAt(),
  updatedAt: integer('updated_at', { mode: 'number' }),
})

/** Only the SHA-256 of a key is stored; the `sk-...` secret is shown once at creation. */
export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name'),
    keyHash: text('key_hash').notNull().unique(),
    prefix: text('prefix').notNull(),
    limits: text('limits', { mode: 'json' }).$type<Record<string, number>>().notNull().default({}),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at', { mode: 'number' }),
    /** The console user (console_users.id) who created it; null for keys made with the admin token. */
    createdBy: text('created_by'),
  },
  (t) => [index('api_keys_tenant_idx').on(t.tenantId)],
)

/** A vLLM (or other OpenAI-compatible) upstream. `name` is the SkyPilot cluster name for launched nodes. */
export const nodes = sqliteTable('nodes', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  endpoint: text('endpoint').notNull(),
  models: text('models', { mode: 'json' }).$type<string[]>().notNull(),
  status: text('status').notNull(),
  provider: text('provider'),
  region: text('region'),
  gpu: text('gpu'),
  /**
   * What serves the node's OpenAI-compatible API: `vllm` gets a per-tenant `cache_salt` on generation requests
   * (services/inference/cache-salt.ts); `openai_compatible` (a BYO server of another kind) gets none.
   */
  engine: text('engine', { enum: NODE_ENGINES }).notNull().default('vllm'),
  /** Upstream API key, AES-GCM encrypted with the SECRETS_KEY Worker secret (never stored in clear). */
  apiKeyCiphertext: text('api_key_ciphertext'),
  lastError: text('last_error'),
  createdAt: createdAt(),
  updatedAt: integer('updated_at', { mode: 'number' }),
})

/**
 * One row per request that reached a node, kept for the dedupe horizon (services/usage/usage-retention.ts) and
 * then pruned: within the horizon a row is the tombstone that makes a redelivery a no-op. The key is
 * (created_at, request_id): an event is immutable and every redelivery carries its body verbatim, so the pair is
 * as unique as the request id, and leading with the time makes pruning a range delete on the key. The table is
 * WITHOUT ROWID (0006's SQL): one b-tree, one D1 row written per insert and per delete.
 */
export const usageEvents = sqliteTable(
  'usage_events',
  {
    requestId: text('request_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    keyId: text('key_id').notNull(),
    model: text('model').notNull(),
    nodeId: text('node_id').notNull(),
    endpoint: text('endpoint').notNull(),
    promptTokens: integer('prompt_tokens').notNull(),
    completionTokens: integer('completion_tokens').notNull(),
    /** Of prompt_tokens, those the node served from its prefix cache (≤ prompt_tokens; 0 when not reported). 0012. */
    cachedPromptTokens: integer('cached_prompt_tokens').notNull().default(0),
    outcome: text('outcome').notNull(),
    httpStatus: integer('http_status').notNull(),
    usageSource: text('usage_source').notNull(),
    latencyMs: integer('latency_ms').notNull(),
    ttftMs: integer('ttft_ms'),
    createdAt: integer('created_at', { mode: 'number' }).notNull(),
    /** The ledger write (one statement) that inserted the row: its rollup adds exactly these rows (ledger-write.ts). */
    writeId: text('write_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.createdAt, t.requestId] })],
)

/** Per tenant, key, model and UTC hour (`hour_start`, ms): derived only from usage_events rows, exactly once. */
export const usageHourly = sqliteTable(
  'usage_hourly',
  {
    tenantId: text('tenant_id').notNull(),
    keyId: text('key_id').notNull(),
    model: text('model').notNull(),
    hourStart: integer('hour_start', { mode: 'number' }).notNull(),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
    requests: integer('requests').notNull().default(0),
    /** Requests whose outcome was not 'completed'. */
    errors: integer('errors').notNull().default(0),
    /**
     * Σ tokens × price in micro-dollars per million tokens = pico-dollars, exact (price at each request's start,
     * model_prices); rounded once per row and direction when read (services/usage/usage-cost.ts). 0010.
     */
    promptCostPicoUsd: integer('prompt_cost_pico_usd').notNull().default(0),
    completionCostPicoUsd: integer('completion_cost_pico_usd').notNull().default(0),
    /**
     * Of prompt_tokens, those served from the node's prefix cache, and their share of prompt_cost_pico_usd (at the
     * cached-input price). Parts of the prompt direction, not a third one: a row's cost still adds exactly two
     * rounded directions (usage-cost.ts). 0012.
     */
    cachedPromptTokens: integer('cached_prompt_tokens').notNull().default(0),
    cachedPromptCostPicoUsd: integer('cached_prompt_cost_pico_usd').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.keyId, t.model, t.hourStart] }),
    index('usage_hourly_tenant_hour_idx').on(t.tenantId, t.hourStart),
    index('usage_hourly_hour_idx').on(t.hourStart),
  ],
)

/**
 * The price book (0010): one row per model and version, USD per million tokens as integer micro-dollars. A
 * version applies to requests started at or after effective_from, until the next one; never written in the past.
 */
export const modelPrices = sqliteTable(
  'model_prices',
  {
    model: text('model').notNull(),
    effectiveFrom: integer('effective_from', { mode: 'number' }).notNull(),
    inputMicroUsdPerMTok: integer('input_micro_usd_per_mtok').notNull(),
    outputMicroUsdPerMTok: integer('output_micro_usd_per_mtok').notNull(),
    /** Price of prompt tokens the node served from its prefix cache; null: the input price (0012). */
    cachedInputMicroUsdPerMTok: integer('cached_input_micro_usd_per_mtok'),
    createdAt: integer('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.effectiveFrom] })],
)

/** A node's own cumulative vLLM token counters as scraped by health checks; compared with the ledger. */
export const nodeCounterSamples = sqliteTable(
  'node_counter_samples',
  {
    nodeId: text('node_id').notNull(),
    at: integer('at', { mode: 'number' }).notNull(),
    promptTokensTotal: integer('prompt_tokens_total').notNull(),
    generationTokensTotal: integer('generation_tokens_total').notNull(),
  },
  (t) => [primaryKey({ columns: [t.nodeId, t.at] })],
)

/**
 * Per node and UTC hour: the ledger's tokens served by the node, derived in the same batch as usage_hourly; the
 * reconciliation report reads it, so it survives the pruning of usage_events.
 */
export const usageNodeHourly = sqliteTable(
  'usage_node_hourly',
  {
    nodeId: text('node_id').notNull(),
    hourStart: integer('hour_start', { mode: 'number' }).notNull(),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
    requests: integer('requests').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.nodeId, t.hourStart] }), index('usage_node_hourly_hour_idx').on(t.hourStart)],
)

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at', { mode: 'number' }).notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    target: text('target').notNull(),
    before: text('before', { mode: 'json' }),
    after: text('after', { mode: 'json' }),
    requestId: text('request_id'),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at),
    // GET /admin/audit filters by target or actor and pages by id.
    index('audit_log_target_idx').on(t.target, t.id),
    index('audit_log_actor_idx').on(t.actor, t.id),
    // cic_node_launch_failures_total counts the node.* audit rows of failed launches at scrape time (scrape-metrics.ts).
    index('audit_log_action_idx').on(t.action, t.id),
  ],
)

/** Every Stripe webhook event received (verified), once: its id makes a redelivery a no-op. */
export const webhookEvents = sqliteTable(
  'webhook_events',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    /** Stripe's `created`, seconds since epoch. */
    created: integer('created', { mode: 'number' }).notNull(),
    processedAt: integer('processed_at', { mode: 'number' }).notNull(),
    tenantId: text('tenant_id'),
    /** applied | stale | unknown_customer | ignored | invalid (signed, but failed our schema: stored, never applied) */
    outcome: text('outcome').notNull(),
    payload: text('payload').notNull(),
  },
  (t) => [
    index('webhook_events_tenant_idx').on(t.tenantId, t.created),
    // replayUnknownCustomerEvents reads these, oldest first, whenever a tenant gets its Stripe customer.
    index('webhook_events_unknown_customer_idx').on(t.created).where(sql`${t.outcome} = 'unknown_customer'`),
  ],
)

/** The last applied Stripe event per tenant and object (`payment`, `subscription:<id>`): older events are skipped. */
export const billingObjects = sqliteTable(
  'billing_objects',
  {
    tenantId: text('tenant_id').notNull(),
    objectKey: text('object_key').notNull(),
    /** payment: succeeded | failed; subscription: active | ended */
    state: text('state', { enum: ['succeeded', 'failed', 'active', 'ended'] }).notNull(),
    plan: text('plan'),
    eventId: text('event_id').notNull(),
    eventCreated: integer('event_created', { mode: 'number' }).notNull(),
    updatedAt: integer('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.objectKey] })],
)

/** Usage periods (ms) of paid invoices. */
export const billedPeriods = sqliteTable(
  'billed_periods',
  {
    invoiceId: text('invoice_id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    periodStart: integer('period_start', { mode: 'number' }).notNull(),
    periodEnd: integer('period_end', { mode: 'number' }).notNull(),
    amountPaid: integer('amount_paid').notNull(),
    currency: text('currency').notNull(),
    eventId: text('event_id').notNull(),
    billedAt: integer('billed_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('billed_periods_tenant_idx').on(t.tenantId, t.periodStart)],
)

/** One Stripe meter event per row: written (pending) before it is sent, re-sent verbatim until Stripe accepts it. */
export const meterPushes = sqliteTable(
  'meter_pushes',
  {
    identifier: text('identifier').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    eventName: text('event_name').notNull(),
    hourStart: integer('hour_start', { mode: 'number' }).notNull(),
    /** 0 for the hour's first push; 1, 2, ... for corrections carrying usage recorded after it. */
    seq: integer('seq').notNull(),
    stripeCustomerId: text('stripe_customer_id').notNull(),
    value: integer('value').notNull(),
    /** failed: retried by the next run; rejected: Stripe refused it for good (a 4xx other than 429), never retried. */
    status: text('status', { enum: ['pending', 'sent', 'failed', 'rejected'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: integer('created_at', { mode: 'number' }).notNull(),
    lastAttemptAt: integer('last_attempt_at', { mode: 'number' }),
    /** When it was first sent: Stripe deduplicates an identifier for at least 24 h only, so late re-sends are logged. */
    firstAttemptAt: integer('first_attempt_at', { mode: 'number' }),
    sentAt: integer('sent_at', { mode: 'number' }),
    /** Set when invoice.payment_succeeded covers this hour. */
    invoiceId: text('invoice_id'),
  },
  (t) => [
    uniqueIndex('meter_pushes_hour_seq_unique').on(t.tenantId, t.eventName, t.hourStart, t.seq),
    index('meter_pushes_status_idx').on(t.status, t.hourStart),
  ],
)

/**
 * Every message of the usage-events dead-letter queue, kept until an admin replays it into the ledger. `id` is
 * `req:<request id>` when the body names one (so the same event dead-lettered twice is one row), else
 * `msg:<message id>`. Two shapes arrive: schema rejects wrapped by the consumer ({reason, error, messageId, body})
 * and raw events the runtime moved here after max_retries.
 */
export const usageDeadLetters = sqliteTable(
  'usage_dead_letters',
  {
    id: text('id').primaryKey(),
    /** The dead-letter queue message's id at its first delivery. */
    messageId: text('message_id').notNull(),
    requestId: text('request_id'),
    tenantId: text('tenant_id'),
    /**
     * schema: failed the usage-event schema; retries_exhausted: D1 refused it max_retries times;
     * beyond_dedupe_horizon: it arrived after its tombstone could have been pruned, so it was not counted.
     */
    reason: text('reason', { enum: ['schema', 'retries_exhausted', 'beyond_dedupe_horizon'] }).notNull(),
    error: text('error'),
    /** The message body as received (JSON). */
    body: text('body').notNull(),
    /** Deliveries of the dead-letter message (the highest `attempts` seen). */
    attempts: integer('attempts').notNull(),
    firstSeenAt: integer('first_seen_at', { mode: 'number' }).notNull(),
    lastSeenAt: integer('last_seen_at', { mode: 'number' }).notNull(),
    status: text('status', { enum: ['pending', 'replayed', 'discarded'] })
      .notNull()
      .default('pending'),
    replayedAt: integer('replayed_at', { mode: 'number' }),
    /** Why the last replay could not write it (still failing the schema). */
    replayError: text('replay_error'),
  },
  (t) => [index('usage_dead_letters_status_idx').on(t.status, t.firstSeenAt)],
)
/**
 * A node CIC launched through orchestrator-runner (issue #7); `cluster_name` is the node's name and the SkyPilot
 * cluster name. Only the SHA-256 of the node's registration token is kept; the token itself went to the runner once.
 */
export const nodeLaunches = sqliteTable(
  'node_launches',
  {
    clusterName: text('cluster_name').primaryKey(),
    nodeId: text('node_id').notNull().unique(),
    /** JSON NodeLaunchSpec: what was asked for, replayed on relaunch. */
    spec: text('spec', { mode: 'json' }).$type<NodeLaunchSpec>().notNull(),
    registerTokenHash: text('register_token_hash'),
    /**
     * The endpoint the runner created for the current attempt (its tunnel hostname), reported with the attempt's
     * credentials: the only endpoint POST /nodes/register accepts for it. Cleared with the token.
     */
    endpoint: text('endpoint'),
    /** Launch attempts the runner started (each `launching` report). */
    attempts: integer('attempts').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: integer('updated_at', { mode: 'number' }),
    /** The fleet (its model) whose reconciler launched the node; null for a node an admin launched. */
    fleetModel: text('fleet_model'),
    /** Index of the fleet placement the node was launched from (fleets.placements). */
    fleetPlacement: integer('fleet_placement'),
  },
  (t) => [index('node_launches_fleet_idx').on(t.fleetModel)],
)

/**
 * Desired state of a model's fleet (PUT /admin/fleet/:model), kept by its FleetReconciler object
 * (durable-objects/fleet-reconciler/). `launch_seq` numbers the reconciler's launches: each launch claims the next
 * number with a compare-and-set in the same D1 batch as the node row, so its cluster name is deterministic.
 */
export const fleets = sqliteTable('fleets', {
  model: text('model').primaryKey(),
  minReady: integer('min_ready').notNull(),
  maxNodes: integer('max_nodes').notNull(),
  /** JSON FleetPlacement[], tried in order. */
  placements: text('placements', { mode: 'json' }).$type<FleetPlacement[]>().notNull(),
  /** Consecutive spot capacity failures after which launches are on-demand; null = never. */
  fallbackOnDemandAfter: integer('fallback_on_demand_after'),
  launchSeq: integer('launch_seq').notNull().default(0),
  /** Observed launch-to-ready time (moving average), for Retry-After while no node is ready; null until measured. */
  typicalReadyMs: integer('typical_ready_ms'),
  createdAt: createdAt(),
  updatedAt: integer('updated_at', { mode: 'number' }),
})

/**
 * Every message of the node-ops dead-letter queue (launch/terminate jobs orchestrator-runner gave up on), kept until
 * an admin replays it onto node-ops (services/nodes/node-ops-dead-letters.ts). `id` is
 * `job:<op>:<cluster>:<requested_at>` for a valid job (the same job dead-lettered again is one row), else
 * `msg:<message id>` (reason `schema`, never replayable).
 */
export const nodeOpsDeadLetters = sqliteTable(
  'node_ops_dead_letters',
  {
    id: text('id').primaryKey(),
    /** The dead-letter message's id (the latest one: a job dead-lettered again after a replay arrives under a new id). */
    messageId: text('message_id').notNull(),
    /** launch | terminate, and the cluster, as far as the body says (also for a schema reject, for the log). */
    op: text('op'),
    clusterName: text('cluster_name'),
    nodeId: text('node_id'),
    /** schema: failed the node-ops message schema; retries_exhausted: the runner's retries ran out. */
    reason: text('reason', { enum: ['schema', 'retries_exhausted'] }).notNull(),
    error: text('error'),
    /** The message body as received (JSON). */
    body: text('body').notNull(),
    /** Deliveries of the dead-letter message (the highest `attempts` seen for `message_id`). */
    attempts: integer('attempts').notNull(),
    firstSeenAt: integer('first_seen_at', { mode: 'number' }).notNull(),
    lastSeenAt: integer('last_seen_at', { mode: 'number' }).notNull(),
    /** discarded: an admin checked the job needs nothing more (e.g. `sky status` shows the cluster gone) and closed it. */
    status: text('status', { enum: ['pending', 'replayed', 'discarded'] })
      .notNull()
      .default('pending'),
    /** A replay in progress holds the row until it is sent (or its lease runs out: the row is pending again). */
    claimedAt: integer('claimed_at', { mode: 'number' }),
    replayedAt: integer('replayed_at', { mode: 'number' }),
    /** Times the job was re-sent onto node-ops. */
    replays: integer('replays').notNull().default(0),
    /** Why the last replay did not send it (fails the schema, or the queue refused it). */
    replayError: text('replay_error'),
  },
  (t) => [index('node_ops_dead_letters_status_idx').on(t.status, t.firstSeenAt)],
)

export type TenantRow = typeof tenants.$inferSelect
export type ApiKeyRow = typeof apiKeys.$inferSelect
export type NodeRow = typeof nodes.$inferSelect
export type UsageEventRow = typeof usageEvents.$inferInsert
export type BillingObjectRow = typeof billingObjects.$inferSelect
export type MeterPushRow = typeof meterPushes.$inferSelect
export type UsageDeadLetterRow = typeof usageDeadLetters.$inferSelect
export type NodeLaunchRow = typeof nodeLaunches.$inferSelect
export type NodeOpsDeadLetterRow = typeof nodeOpsDeadLetters.$inferSelect
export type FleetRow = typeof fleets.$inferSelect

// ---- Console (issue 17): users signed in with OpenID Connect, their tenant roles, invites, sessions ----

/** A person who signed in to the console, keyed by the issuer's `sub` (Google's stable account id), never by email. */
export const consoleUsers = sqliteTable('console_users', {
  id: text('id').primaryKey(),
  sub: text('sub').notNull().unique(),
  /** The verified email of the last sign-in (lower-cased); operators and invites match on it. */
  email: text('email').notNull(),
  name: text('name'),
  createdAt: createdAt(),
  lastSignInAt: integer('last_sign_in_at', { mode: 'number' }).notNull(),
})

/** A user's role in a tenant (one per pair). Operators are not stored: OPERATOR_EMAILS names them. */
export const consoleMemberships = sqliteTable(
  'console_memberships',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    userId: text('user_id')
      .notNull()
      .references(() => consoleUsers.id),
    role: text('role', { enum: ['tenant_admin', 'tenant_member'] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId] }), index('console_memberships_user_idx').on(t.userId)],
)

/** An invite to a tenant: only the SHA-256 of its token is stored; accepted once, by signing in with `email`. */
export const consoleInvites = sqliteTable(
  'console_invites',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    email: text('email').notNull(),
    role: text('role', { enum: ['tenant_admin', 'tenant_member'] }).notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    expiresAt: integer('expires_at', { mode: 'number' }).notNull(),
    acceptedAt: integer('accepted_at', { mode: 'number' }),
    acceptedBy: text('accepted_by'),
  },
  (t) => [index('console_invites_tenant_idx').on(t.tenantId)],
)

/** A signed-in browser: the cookie's SHA-256, with idle (last_seen_at) and absolute (created_at) lifetimes. */
export const consoleSessions = sqliteTable(
  'console_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => consoleUsers.id),
    csrfToken: text('csrf_token').notNull(),
    createdAt: integer('created_at', { mode: 'number' }).notNull(),
    lastSeenAt: integer('last_seen_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('console_sessions_user_idx').on(t.userId)],
)

/** A sign-in in progress (authorization request sent, callback not yet seen), keyed by its browser cookie's hash. */
export const consoleLogins = sqliteTable('console_logins', {
  idHash: text('id_hash').primaryKey(),
  state: text('state').notNull(),
  nonce: text('nonce').notNull(),
  codeVerifier: text('code_verifier').notNull(),
  returnTo: text('return_to').notNull(),
  expiresAt: integer('expires_at', { mode: 'number' }).notNull(),
})

export type ConsoleUserRow = typeof consoleUsers.$inferSelect
export type ConsoleSessionRow = typeof consoleSessions.$inferSelect
export type ConsoleInviteRow = typeof consoleInvites.$inferSelect
