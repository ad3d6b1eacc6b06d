// D1 tables of the control plane (drizzle). SQL migrations in d1-migrations/ are generated from this file.
import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import type { NodeLaunchSpec } from '../schemas/node-ops.ts'

const createdAt = () => integer('created_at', { mode: 'number' }).notNull().default(sql`(unixepoch('subsec') * 1000)`)

/** A customer. `status` and `limits` are mirrored into the tenant's admission Durable Object, which is authoritative on the request path. */
export const tenants = sqliteTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  status: text('status', { enum: ['active', 'suspended'] }).notNull().default('active'),
  statusReason: text('status_reason'),
  plan: text('plan').notNull().default('default'),
  /** JSON TenantLimits; absent fields mean the plan's default. */
  limits: text('limits', { mode: 'json' }).$type<Record<string, number>>().notNull().default({}),
  stripeCustomerId: text('stripe_customer_id').unique(),
  createdAt: createdAt(),
  updatedAt: integer('updated_at', { mode: 'number' }),
})

/** Only the SHA-256 of a key is stored; the `sk-...` secret is shown once at creation. */
export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull().references(() => tenants.id),
  name: text('name'),
  keyHash: text('key_hash').notNull().unique(),
  prefix: text('prefix').notNull(),
  limits: text('limits', { mode: 'json' }).$type<Record<string, number>>().notNull().default({}),
  createdAt: createdAt(),
  revokedAt: integer('revoked_at', { mode: 'number' }),
}, (t) => [index('api_keys_tenant_idx').on(t.tenantId)])

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
  /** Upstream API key, AES-GCM encrypted with the SECRETS_KEY Worker secret (never stored in clear). */
  apiKeyCiphertext: text('api_key_ciphertext'),
  lastError: text('last_error'),
  createdAt: createdAt(),
  updatedAt: integer('updated_at', { mode: 'number' }),
})

/** One row per request that reached a node; the request id makes redelivery a no-op. */
export const usageEvents = sqliteTable('usage_events', {
  requestId: text('request_id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  keyId: text('key_id').notNull(),
  model: text('model').notNull(),
  nodeId: text('node_id').notNull(),
  endpoint: text('endpoint').notNull(),
  promptTokens: integer('prompt_tokens').notNull(),
  completionTokens: integer('completion_tokens').notNull(),
  outcome: text('outcome').notNull(),
  httpStatus: integer('http_status').notNull(),
  usageSource: text('usage_source').notNull(),
  latencyMs: integer('latency_ms').notNull(),
  ttftMs: integer('ttft_ms'),
  createdAt: integer('created_at', { mode: 'number' }).notNull(),
}, (t) => [index('usage_events_tenant_time_idx').on(t.tenantId, t.createdAt)])

export const auditLog = sqliteTable('audit_log', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  at: integer('at', { mode: 'number' }).notNull(),
  actor: text('actor').notNull(),
  action: text('action').notNull(),
  target: text('target').notNull(),
  before: text('before', { mode: 'json' }),
  after: text('after', { mode: 'json' }),
  requestId: text('request_id'),
}, (t) => [index('audit_log_at_idx').on(t.at)])

/**
 * A node CIC launched through orchestrator-runner (issue #7); `cluster_name` is the node's name and the SkyPilot
 * cluster name. Only the SHA-256 of the node's registration token is kept; the token itself went to the runner once.
 */
export const nodeLaunches = sqliteTable('node_launches', {
  clusterName: text('cluster_name').primaryKey(),
  nodeId: text('node_id').notNull().unique(),
  /** JSON NodeLaunchSpec: what was asked for, replayed on relaunch. */
  spec: text('spec', { mode: 'json' }).$type<NodeLaunchSpec>().notNull(),
  registerTokenHash: text('register_token_hash'),
  /** Launch attempts the runner started (each `launching` report). */
  attempts: integer('attempts').notNull().default(0),
  createdAt: createdAt(),
  updatedAt: integer('updated_at', { mode: 'number' }),
})

export type TenantRow = typeof tenants.$inferSelect
export type ApiKeyRow = typeof apiKeys.$inferSelect
export type NodeRow = typeof nodes.$inferSelect
export type UsageEventRow = typeof usageEvents.$inferInsert
export type NodeLaunchRow = typeof nodeLaunches.$inferSelect
