-- The usage ledger fits one D1 database (services/usage/usage-retention.ts): usage_events becomes the dedupe
-- horizon's tombstones, keyed (created_at, request_id) so pruning is a range delete on the key. Hand edits to
-- drizzle-kit's output, reviewed: WITHOUT ROWID (drizzle cannot express it; one b-tree instead of a rowid table
-- plus a key index: one D1 row written per insert and per delete instead of two); the old rows are copied with
-- write_id 'pre-0006' (all already rolled up: 0001's rollup ran in the batch that inserted them); drizzle's
-- PRAGMA foreign_keys lines dropped; usage_node_hourly backfilled from the old rows (no foreign key names usage_events). The old secondary indexes go with the
-- old table: the reports and the meter push read the rollups (usage_hourly, usage_node_hourly) instead.
CREATE TABLE `usage_node_hourly` (
	`node_id` text NOT NULL,
	`hour_start` integer NOT NULL,
	`prompt_tokens` integer DEFAULT 0 NOT NULL,
	`completion_tokens` integer DEFAULT 0 NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`node_id`, `hour_start`)
);
--> statement-breakpoint
CREATE INDEX `usage_node_hourly_hour_idx` ON `usage_node_hourly` (`hour_start`);--> statement-breakpoint
CREATE TABLE `__new_usage_events` (
	`request_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`key_id` text NOT NULL,
	`model` text NOT NULL,
	`node_id` text NOT NULL,
	`endpoint` text NOT NULL,
	`prompt_tokens` integer NOT NULL,
	`completion_tokens` integer NOT NULL,
	`outcome` text NOT NULL,
	`http_status` integer NOT NULL,
	`usage_source` text NOT NULL,
	`latency_ms` integer NOT NULL,
	`ttft_ms` integer,
	`created_at` integer NOT NULL,
	`write_id` text NOT NULL,
	PRIMARY KEY(`created_at`, `request_id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_usage_events`("request_id", "tenant_id", "key_id", "model", "node_id", "endpoint", "prompt_tokens", "completion_tokens", "outcome", "http_status", "usage_source", "latency_ms", "ttft_ms", "created_at", "write_id") SELECT "request_id", "tenant_id", "key_id", "model", "node_id", "endpoint", "prompt_tokens", "completion_tokens", "outcome", "http_status", "usage_source", "latency_ms", "ttft_ms", "created_at", 'pre-0006' FROM `usage_events`;--> statement-breakpoint
-- Hand-written: the per-node rollup of the rows that exist, so the reconciliation report keeps its history.
INSERT INTO `usage_node_hourly` (`node_id`, `hour_start`, `prompt_tokens`, `completion_tokens`, `requests`)
SELECT `node_id`, `created_at` - `created_at` % 3600000, sum(`prompt_tokens`), sum(`completion_tokens`), count(*)
FROM `usage_events` GROUP BY 1, 2;--> statement-breakpoint
DROP TABLE `usage_events`;--> statement-breakpoint
ALTER TABLE `__new_usage_events` RENAME TO `usage_events`;
